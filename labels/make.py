"""The one entry point: labels in, files out. Everything is checked before a byte is written."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from labels.compose import Art, compose, qr_square
from labels.errors import LabelError
from labels.fonts import CjkFont, find_font
from labels.layout import Layout, Page, RollLayout, SheetLayout
from labels.model import CardLabel, HutCard, ItemLabel, Label
from labels.qr import QrPlan, plan_many

log = logging.getLogger(__name__)

Format = Literal["pdf", "png", "svg"]
FORMATS: tuple[Format, ...] = ("pdf", "png", "svg")
Progress = Callable[[int, int], None]  # (steps done, steps in all)


@dataclass(frozen=True, slots=True)
class Refused:
    """A label that cannot be made; ``number`` counts from 1 in the caller's sequence."""

    number: int
    key: str
    reason: str

    def __str__(self) -> str:
        return f"label {self.number} ({self.key}): {self.reason}"


Refuse = Callable[[Refused], None]
MAX_LABELS = 20_000
_MAX_REPORTED = 10
PNG_SHEET_DPI = 300


def make_labels(
    labels: Sequence[Label],
    *,
    output: Path,
    fmt: Format,
    layout: Layout,
    font: CjkFont | str | Path | None = None,
    progress: Progress | None = None,
    refuse: Refuse | None = None,
) -> list[Path]:
    """Render ``labels`` and return the files written.

    A label that cannot be made (a character the font lacks, a QR code or tag too big for the
    label) stops everything with a LabelError before a byte is written; given ``refuse``, it is
    handed to ``refuse`` instead and the others are made (a LabelError if none can be).

    ``pdf``: ``output`` is the file (one page per sheet, or per label on a roll).
    ``png``/``svg``: ``output`` is a directory (created), holding ``page-001.png``... for a
    sheet layout or ``label-0001-<tag>.png``... for a roll layout.
    Progress counts composing (QR codes, text fitting) and then drawing: 2 steps per label.
    """
    if fmt not in FORMATS:
        raise LabelError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if not isinstance(layout, SheetLayout | RollLayout):
        raise LabelError(f"layout must be a SheetLayout or RollLayout, got {type(layout).__name__}")
    if not labels:
        raise LabelError("no labels to make")
    if len(labels) > MAX_LABELS:
        raise LabelError(f"{len(labels)} labels in one go; at most {MAX_LABELS}")
    cjk = font if isinstance(font, CjkFont) else find_font(font, env=os.environ)
    output = Path(output)
    _check_output(output, fmt)

    total = 2 * len(labels)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    made = _compose_all(labels, layout=layout, font=cjk, fmt=fmt, tick=tick, refuse=refuse)
    labels = [label for label, _ in made]
    arts = [art for _, art in made]
    pages = list(layout.pages(len(labels)))
    title = f"toolhut labels ({len(labels)})"

    if fmt == "pdf":
        output.parent.mkdir(parents=True, exist_ok=True)
        from labels.render_pdf import write_pdf

        with _replacing(output) as tmp:
            write_pdf(tmp, pages=pages, arts=arts, font=cjk, title=title, tick=tick)
        return [output]

    paths = _file_names(output, pages=pages, labels=labels, layout=layout, fmt=fmt)
    output.mkdir(parents=True, exist_ok=True)
    if fmt == "png":
        from labels.render_png import write_pngs

        dpi = layout.dpi if isinstance(layout, RollLayout) else PNG_SHEET_DPI
        write_pngs(paths, pages=pages, arts=arts, font=cjk, dpi=dpi, tick=tick)
    else:
        from labels.render_svg import write_svgs

        write_svgs(paths, pages=pages, arts=arts, font=cjk, tick=tick)
    return paths


@contextmanager
def _replacing(output: Path) -> Iterator[Path]:
    """A new file beside ``output`` that replaces it once written, so a failure never leaves
    half a file behind. Created like any file (mode 0666 less the umask), not 0600 as
    tempfile's are, so the PDF is as readable as the PNGs and SVGs."""
    while True:
        tmp = output.with_name(f".{output.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _check_output(output: Path, fmt: Format) -> None:
    if fmt == "pdf":
        if output.is_dir():
            raise LabelError(f"output {output} is a directory; name the PDF file to write")
        parent = output.parent
        while not parent.exists():
            parent = parent.parent
    else:
        if output.exists() and not output.is_dir():
            raise LabelError(f"output {output} is a file; {fmt} output goes into a directory")
        parent = output
        while not parent.exists():
            parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise LabelError(f"cannot write into {parent}")


def _compose_all(
    labels: Sequence[Label],
    *,
    layout: Layout,
    font: CjkFont,
    fmt: Format,
    tick: Callable[[], None],
    refuse: Refuse | None,
) -> list[tuple[Label, Art]]:
    wrong = [
        f"label {n}: not an ItemLabel, CardLabel or HutCard but {type(label).__name__}"
        for n, label in enumerate(labels, start=1)
        if not isinstance(label, ItemLabel | CardLabel | HutCard)
    ]
    if wrong:
        raise _combined(wrong)
    refused: list[Refused] = []
    for n, label in enumerate(labels, start=1):
        missing = font.missing("".join(label.texts()))
        if missing:
            reason = f"font {font.path.name} has no glyph for {''.join(missing)!r}"
            refused.append(Refused(n, label.key, reason))

    # Raster output prints modules on whole printer dots; vector output needs no snapping.
    dot_mm = None
    if fmt == "png":
        dpi = layout.dpi if isinstance(layout, RollLayout) else PNG_SHEET_DPI
        dot_mm = 25.4 / dpi
    width, height = layout.label_width, layout.label_height
    plans = _plans(labels, width=width, height=height, dot_mm=dot_mm, tick=tick)
    made: list[tuple[Label, Art]] = []
    bad = {r.number for r in refused}
    for n, (label, plan) in enumerate(zip(labels, plans, strict=True), start=1):
        if n in bad:
            continue
        if isinstance(plan, str):
            refused.append(Refused(n, label.key, plan))
            continue
        try:
            art = compose(label, width=width, height=height, font=font, dot_mm=dot_mm, plan=plan)
        except LabelError as exc:
            refused.append(Refused(n, label.key, str(exc)))
            continue
        made.append((label, art))
    refused.sort(key=lambda r: r.number)
    if refused and (refuse is None or not made):
        raise _combined([str(r) for r in refused])
    for r in refused:
        assert refuse is not None
        refuse(r)
    cut = [label.key for label, art in made if art.truncated]
    if cut:
        log.warning(
            "%d of %d labels had text cut with '…' to fit %gx%g mm (first: %s); "
            "a bigger label or shorter names avoid it",
            len(cut),
            len(made),
            width,
            height,
            ", ".join(cut[:5]),
        )
    return made


def _plans(
    labels: Sequence[Label],
    *,
    width: float,
    height: float,
    dot_mm: float | None,
    tick: Callable[[], None],
) -> list[QrPlan | str]:
    """The labels' QR plans in order, planned together for each size of code (a hut card's
    code is held smaller than an item's on the same label)."""
    boxes = [qr_square(width, height, label) for label in labels]
    plans: list[QrPlan | str] = [""] * len(labels)
    for box in dict.fromkeys(boxes):
        at = [n for n, b in enumerate(boxes) if b == box]
        made = plan_many([labels[n].payload for n in at], box_mm=box, dot_mm=dot_mm, tick=tick)
        for n, plan in zip(at, made, strict=True):
            plans[n] = plan
    return plans


def _combined(problems: list[str]) -> LabelError:
    shown = problems[:_MAX_REPORTED]
    more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    return LabelError("cannot make labels:\n  " + "\n  ".join(shown) + more)


def _file_names(
    output: Path,
    *,
    pages: list[Page],
    labels: Sequence[Label],
    layout: Layout,
    fmt: Format,
) -> list[Path]:
    if isinstance(layout, SheetLayout):
        return [output / f"page-{n:03d}.{fmt}" for n in range(1, len(pages) + 1)]
    return [output / f"label-{n:04d}-{labels[n - 1].key}.{fmt}" for n in range(1, len(pages) + 1)]
