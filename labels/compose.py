"""One label as drawing marks in millimetres (y down), shared by the PDF, PNG and SVG renderers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from labels.errors import LabelError
from labels.fonts import CjkFont
from labels.model import CardLabel, HutCard, Label
from labels.qr import QrPlan, plan_qr
from labels.textfit import Fitted, fit, line_height, lines_needed, tag_tokens, unit_tokens
from labels.texts import CARD_TITLE_EN, CARD_TITLE_ZH

log = logging.getLogger(__name__)

_PT_MM = 25.4 / 72
MIN_TEXT_PT = 5.0
_GAP_MM = 1.2
# Beside the code, a text column holds 8 Chinese characters a line at the smallest size;
# below it, a band holds 4 lines.
MIN_TEXT_COLUMN_MM = 15.0
MIN_TEXT_LINES = 4
# A hut card's code (a short text) scans well at this size; the rest of a big card goes to
# its words, large for elderly eyes.
HUT_CARD_QR_MM = 40.0


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
    share: float  # of the text area's height, when there is height to spare
    max_pt: float
    max_lines: int
    tokens: tuple[str, ...] | None = None
    whole: bool = False  # never cut: the label is refused instead
    drop: int = 0  # may be left out when there is no room, highest first; 0: never
    shorter: _Block | None = None  # what to print when there is no room for all of it


def _padding(width: float, height: float) -> float:
    return max(1.5, 0.05 * min(width, height))


def _regions(
    width: float, height: float, max_qr: float | None = None
) -> tuple[tuple[float, float, float], tuple[float, ...]]:
    """QR square (x, y, side) and text box (x, y, w, h): the code as big as the label allows
    (up to ``max_qr``) beside (left) or above a text area that can still hold the names at
    the smallest size. A code held to ``max_qr`` either way goes above: the text gets the
    label's whole width."""
    pad = _padding(width, height)
    band = MIN_TEXT_LINES * line_height(MIN_TEXT_PT)
    beside = min(height - 2 * pad, width - 2 * pad - _GAP_MM - MIN_TEXT_COLUMN_MM)
    above = min(width - 2 * pad, height - 2 * pad - _GAP_MM - band)
    if max_qr is not None:
        beside, above = min(beside, max_qr), min(above, max_qr)
    if beside > above or (beside == above and max_qr is None):
        tx = pad + beside + _GAP_MM
        return (pad, (height - beside) / 2, beside), (tx, pad, width - tx - pad, height - 2 * pad)
    ty = pad + above + _GAP_MM
    return ((width - above) / 2, pad, above), (pad, ty, width - 2 * pad, height - ty - pad)


def _max_qr(label: Label) -> float | None:
    return HUT_CARD_QR_MM if isinstance(label, HutCard) else None


def _blocks(label: Label) -> list[_Block]:
    if isinstance(label, HutCard):
        # The caption is what an elderly resident reads: large, on one line, never left out.
        blocks = [
            _Block(label.caption_zh, 0.34, 72, 1),
            _Block(label.stars, 0.16, 36, 1, drop=3),
            _Block(label.caption_en, 0.20, 28, 2, drop=4),
            _Block(label.hint_zh, 0.18, 16, 2, drop=2),
            _Block(label.hint_en, 0.12, 12, 2, drop=5),
        ]
        return [b for b in blocks if b.text]
    if isinstance(label, CardLabel):
        blocks = [
            _Block(CARD_TITLE_ZH, 0.30, 12, 2, drop=2),
            _Block(CARD_TITLE_EN, 0.15, 8, 2, drop=3),
            _Block(label.name, 0.20, 9, 1),
            _Block(label.building_unit, 0.15, 9, 1, drop=1),
            _Block(label.ref, 0.20, 9, 2, tuple(tag_tokens(label.ref)), whole=True),
        ]
        return [b for b in blocks if b.text]
    units = tuple(t for t in (label.hut_name, label.hint) if t)
    hut = _Block(label.hut_name, 0.20, 9, 2, drop=1)
    blocks = [
        _Block(label.name_zh, 0.34 if label.name_en else 0.50, 16, 3),
        _Block(label.name_en, 0.16, 10, 2, drop=2),
        _Block(label.tag, 0.30, 28, 4, tuple(tag_tokens(label.tag)), whole=True),
        _Block(" ".join(units), 0.20, 9, 2, tuple(unit_tokens(units)), drop=1, shorter=hut)
        if len(units) > 1
        else hut,
    ]
    return [b for b in blocks if b.text]


def _need(block: _Block, *, font: CjkFont, width: float) -> tuple[int, bool]:
    """Lines at the smallest size, capped at ``max_lines``, and whether that cap cuts it."""
    n = lines_needed(
        block.text, measure=font.width_mm, size_pt=MIN_TEXT_PT, width_mm=width, tokens=block.tokens
    )
    return min(n, block.max_lines), n > block.max_lines


def _heights(shares: list[float], needs: list[float], total: float) -> list[float]:
    """Each block at least its need; the rest shared out by ``shares`` (water-filling)."""
    fixed: set[int] = set()
    while True:
        free = total - sum(needs[i] for i in fixed)
        weight = sum(s for i, s in enumerate(shares) if i not in fixed)
        scale = free / weight if weight else 0.0
        grow = {i for i, s in enumerate(shares) if i not in fixed and needs[i] > scale * s}
        if not grow:
            return [needs[i] if i in fixed else scale * s for i, s in enumerate(shares)]
        fixed |= grow


def _arrange(
    blocks: list[_Block], *, font: CjkFont, width: float, height: float
) -> tuple[list[_Block], list[float], list[str]]:
    """Blocks to draw, the height each gets, and the texts left out for want of room.

    First the hint goes (``shorter``), then names are held to one line, then blocks are left
    out by ``drop`` rank; a block printed ``whole`` (the tag) is never cut.
    """
    one = line_height(MIN_TEXT_PT)
    room = height + 1e-9

    def need(b: _Block) -> float:
        return _need(b, font=font, width=width)[0] * one

    for b in blocks:
        if b.whole and (_need(b, font=font, width=width)[1] or need(b) > room):
            raise LabelError(
                f"{b.text!r} does not fit a {width:.1f} x {height:.1f} mm text area even at "
                f"{MIN_TEXT_PT:g} pt; use a bigger label or a shorter tag"
            )
    needs = [need(b) for b in blocks]
    if sum(needs) > room:
        blocks = [b.shorter or b for b in blocks]
        needs = [need(b) for b in blocks]
    if sum(needs) > room:
        needs = [n if b.whole else min(n, one) for b, n in zip(blocks, needs, strict=True)]
    dropped: list[str] = []
    while sum(needs) > room:
        rank, at = max((b.drop, i) for i, b in enumerate(blocks))
        if rank == 0:
            raise LabelError(
                f"the tag and the name do not fit a {width:.1f} x {height:.1f} mm text area; "
                "use a bigger label"
            )
        dropped.append(blocks[at].text)
        del blocks[at], needs[at]
    return blocks, _heights([b.share for b in blocks], needs, height), dropped


def _fit_block(block: _Block, *, font: CjkFont, width: float, height: float) -> Fitted:
    return fit(
        block.text,
        measure=font.width_mm,
        width_mm=width,
        height_mm=height,
        max_pt=block.max_pt,
        min_pt=MIN_TEXT_PT,
        max_lines=block.max_lines,
        tokens=block.tokens,
    )


def qr_square(width: float, height: float, label: Label) -> float:
    """Side (mm) of the square the QR code and its quiet zone get on a label of this size."""
    return _regions(width, height, _max_qr(label))[0][2]


def compose(
    label: Label,
    *,
    width: float,
    height: float,
    font: CjkFont,
    dot_mm: float | None = None,
    plan: QrPlan | None = None,
) -> Art:
    """Drawing marks for one label; ``plan`` is a QR plan made earlier for ``qr_square``."""
    (qx, qy, side), (tx, ty, tw, th) = _regions(width, height, _max_qr(label))
    if plan is None:
        plan = plan_qr(label.payload, box_mm=side, dot_mm=dot_mm)
    # Centre the code in its square: snapping modules to printer dots can leave a sliver.
    offset = (side - plan.side_mm) / 2
    qr = QrMark(qx + offset, qy + offset, plan)

    blocks, heights, truncated = _arrange(_blocks(label), font=font, width=tw, height=th)
    fitted: list[Fitted] = []
    for block, box_h in zip(blocks, heights, strict=True):
        f = _fit_block(block, font=font, width=tw, height=box_h)
        if f.truncated:
            truncated.append(block.text)
        fitted.append(f)
    for text in truncated:
        log.debug("label %s: %r cut to fit a %gx%g mm label", label.key, text, width, height)

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
