"""PNG output: one image per page (sheets) or per label (rolls), QR modules on whole pixels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from labels.compose import Art
from labels.fonts import CjkFont
from labels.layout import Page
from labels.qr import QUIET_ZONE

_PT_MM = 25.4 / 72


@lru_cache(maxsize=64)
def _pil_font(path: Path, index: int, size_px: float) -> ImageFont.FreeTypeFont:
    # BASIC layout: advances straight from the font, as reportlab measures them, so no kerning
    # or shaping can push a line past the width it was fitted to.
    return ImageFont.truetype(
        str(path), size=size_px, index=index, layout_engine=ImageFont.Layout.BASIC
    )


def draw_art(image: Image.Image, art: Art, *, x: float, y: float, dpi: int, font: CjkFont) -> None:
    px = dpi / 25.4
    plan = art.qr.plan
    module_px = max(1, round(plan.module_mm * px))
    n = plan.modules
    code = Image.new("1", (n, n), 1)
    code.putdata([0 if dark else 1 for row in plan.matrix for dark in row])
    code = code.resize((n * module_px, n * module_px), Image.Resampling.NEAREST)
    left = round((x + art.qr.x) * px) + QUIET_ZONE * module_px
    top = round((y + art.qr.y) * px) + QUIET_ZONE * module_px
    image.paste(code.convert(image.mode), (left, top))
    draw = ImageDraw.Draw(image)
    for t in art.texts:
        face = _pil_font(font.path, font.index, round(t.size_pt * _PT_MM * px, 2))
        draw.text(((x + t.x) * px, (y + t.baseline) * px), t.text, font=face, fill=0, anchor="ls")


def write_pngs(
    paths: Sequence[Path],
    *,
    pages: Sequence[Page],
    arts: Sequence[Art],
    font: CjkFont,
    dpi: int,
    tick: Callable[[], None],
) -> None:
    px = dpi / 25.4
    for path, page in zip(paths, pages, strict=True):
        image = Image.new("L", (round(page.width * px), round(page.height * px)), 255)
        for slot in page.slots:
            draw_art(image, arts[slot.index], x=slot.x, y=slot.y, dpi=dpi, font=font)
            tick()
        image.save(path, format="PNG", dpi=(dpi, dpi), optimize=False)
