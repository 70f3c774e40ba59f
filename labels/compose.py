"""One label as drawing marks in millimetres (y down), shared by the PDF, PNG and SVG renderers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from labels.fonts import CjkFont
from labels.model import CardLabel, ItemLabel
from labels.qr import QrPlan, plan_qr
from labels.textfit import Fitted, fit

log = logging.getLogger(__name__)

_PT_MM = 25.4 / 72
MIN_TEXT_PT = 5.0
_GAP_MM = 1.2


@dataclass(frozen=True, slots=True)
class QrMark:
    x: float  # top-left of the quiet zone
    y: float
    plan: QrPlan


@dataclass(frozen=True, slots=True)
class TextMark:
    x: float
    baseline: float
    text: str
    size_pt: float


@dataclass(frozen=True, slots=True)
class Art:
    width: float
    height: float
    qr: QrMark
    texts: tuple[TextMark, ...]
    truncated: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Block:
    text: str
    share: float  # of the text area's height
    max_pt: float
    max_lines: int
    units: tuple[str, ...] = ()


def _padding(width: float, height: float) -> float:
    return max(1.5, 0.05 * min(width, height))


def _regions(width: float, height: float) -> tuple[tuple[float, float, float], tuple[float, ...]]:
    """QR square (x, y, side) and text box (x, y, w, h): QR left if wide, else on top."""
    pad = _padding(width, height)
    if width >= 1.6 * height:
        side = height - 2 * pad
        tx = pad + side + _GAP_MM
        return (pad, pad, side), (tx, pad, width - tx - pad, height - 2 * pad)
    side = min(width - 2 * pad, (height - 2 * pad) * 0.6)
    ty = pad + side + _GAP_MM
    return ((width - side) / 2, pad, side), (pad, ty, width - 2 * pad, height - ty - pad)


def _blocks(label: ItemLabel | CardLabel) -> list[_Block]:
    if isinstance(label, CardLabel):
        return [
            _Block(label.name, 0.55, 28, 2),
            _Block(label.building_unit, 0.45, 16, 2),
        ]
    units = tuple(t for t in (label.hut_name, label.hint) if t)
    blocks = [
        _Block(label.name_zh, 0.34 if label.name_en else 0.50, 16, 3),
        _Block(label.name_en, 0.16, 10, 2),
        _Block(label.tag, 0.30, 28, 1),
        _Block(" ".join(units), 0.20, 9, 2, units),
    ]
    return [b for b in blocks if b.text]


def _fit_block(block: _Block, *, font: CjkFont, width: float, height: float) -> Fitted:
    return fit(
        block.text,
        measure=font.width_mm,
        width_mm=width,
        height_mm=height,
        max_pt=block.max_pt,
        min_pt=MIN_TEXT_PT,
        max_lines=block.max_lines,
        units=block.units,
    )


def qr_square(width: float, height: float) -> float:
    """Side (mm) of the square the QR code and its quiet zone get on a label of this size."""
    return _regions(width, height)[0][2]


def compose(
    label: ItemLabel | CardLabel,
    *,
    width: float,
    height: float,
    font: CjkFont,
    dot_mm: float | None = None,
    plan: QrPlan | None = None,
) -> Art:
    """Drawing marks for one label; ``plan`` is a QR plan made earlier for ``qr_square``."""
    (qx, qy, side), (tx, ty, tw, th) = _regions(width, height)
    if plan is None:
        plan = plan_qr(label.payload, box_mm=side, dot_mm=dot_mm)
    # Centre the code in its square: snapping modules to printer dots can leave a sliver.
    offset = (side - plan.side_mm) / 2
    qr = QrMark(qx + offset, qy + offset, plan)

    blocks = _blocks(label)
    total = sum(b.share for b in blocks)
    fitted: list[Fitted] = []
    truncated: list[str] = []
    for block in blocks:
        box_h = th * block.share / total
        f = _fit_block(block, font=font, width=tw, height=box_h)
        if f.truncated and len(block.units) > 1:
            # No room for the hint: the hut name matters more than "扫码借还".
            f = _fit_block(
                _Block(block.units[0], block.share, block.max_pt, block.max_lines),
                font=font,
                width=tw,
                height=box_h,
            )
        if f.truncated:
            truncated.append(block.text)
            log.debug(
                "label %s: %r cut to fit a %gx%g mm label", label.key, block.text, width, height
            )
        fitted.append(f)

    # Blocks take their natural height; the spare height goes between them, so short names
    # do not leave a hole in the middle.
    used = sum(len(f.lines) * f.line_mm for f in fitted)
    spare = max(0.0, th - used)
    between = spare / (len(fitted) - 1) if len(fitted) > 1 else 0.0
    marks: list[TextMark] = []
    y = ty
    for f in fitted:
        for line in f.lines:
            # Baseline sits so the line's ascent..descent is centred in its line box.
            em = f.size_pt * _PT_MM
            baseline = y + (f.line_mm - (font.ascent + font.descent) * em) / 2 + font.ascent * em
            marks.append(TextMark(tx, baseline, line, f.size_pt))
            y += f.line_mm
        y += between
    return Art(width, height, qr, tuple(marks), tuple(truncated))
