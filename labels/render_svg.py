"""SVG output: text drawn as glyph outlines, so the file shows real Chinese on any viewer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from fontTools.pens.svgPathPen import SVGPathPen
from fontTools.ttLib import TTFont

from labels.compose import Art
from labels.fonts import CjkFont
from labels.layout import Page
from labels.qr import QUIET_ZONE

_PT_MM = 25.4 / 72


class _Glyphs:
    """Outlines and advances of one font face; each outline goes into <defs> once per file."""

    def __init__(self, font: CjkFont) -> None:
        self._tt = _open(font.path, font.index)
        self._cmap: dict[int, str] = self._tt.getBestCmap()
        self._set: Any = self._tt.getGlyphSet()
        self._hmtx: Any = self._tt["hmtx"]
        self.units = float(self._tt["head"].unitsPerEm)
        self.used: dict[str, str] = {}  # glyph name -> id in this file
        self._paths: dict[str, str] = {}

    def place(self, text: str) -> list[tuple[str | None, float]]:
        """(defs id or None for blank glyphs, advance in em) for each character."""
        out: list[tuple[str | None, float]] = []
        for ch in text:
            name = self._cmap.get(ord(ch), ".notdef")
            advance = self._hmtx[name][0] / self.units
            if name not in self.used:
                pen = SVGPathPen(self._set)
                self._set[name].draw(pen)
                self.used[name] = f"g{len(self.used)}" if pen.getCommands() else ""
                self._paths[name] = pen.getCommands()
            out.append((self.used[name] or None, advance))
        return out

    def reset(self) -> None:
        self.used = {}
        self._paths = {}

    def defs(self) -> str:
        return "".join(
            f'<path id="{gid}" d="{self._paths[name]}"/>' for name, gid in self.used.items() if gid
        )


@lru_cache(maxsize=4)
def _open(path: Path, index: int) -> TTFont:
    return TTFont(str(path), fontNumber=index, lazy=True)


def _art_svg(art: Art, *, x: float, y: float, glyphs: _Glyphs) -> str:
    plan = art.qr.plan
    m = plan.module_mm
    left = x + art.qr.x + QUIET_ZONE * m
    top = y + art.qr.y + QUIET_ZONE * m
    d = "".join(
        f"M{left + c * m:.4f} {top + r * m:.4f}h{n * m:.4f}v{m:.4f}h{-n * m:.4f}z"
        for r, c, n in plan.runs()
    )
    parts = [f'<path d="{d}" fill="#000" shape-rendering="crispEdges"/>']
    for t in art.texts:
        em = t.size_pt * _PT_MM
        scale = em / glyphs.units
        pen_x = x + t.x
        base = y + t.baseline
        uses = []
        for gid, advance in glyphs.place(t.text):
            if gid:
                uses.append(
                    f'<use xlink:href="#{gid}" transform="translate({pen_x:.4f} {base:.4f}) '
                    f'scale({scale:.6f} {-scale:.6f})"/>'
                )
            pen_x += advance * em
        parts.append(f"<g aria-label={quoteattr(t.text)}>{''.join(uses)}</g>")
    return "".join(parts)


def write_svgs(
    paths: Sequence[Path],
    *,
    pages: Sequence[Page],
    arts: Sequence[Art],
    font: CjkFont,
    tick: Callable[[], None],
) -> None:
    glyphs = _Glyphs(font)
    for path, page in zip(paths, pages, strict=True):
        glyphs.reset()
        body = []
        titles = []
        for slot in page.slots:
            art = arts[slot.index]
            body.append(_art_svg(art, x=slot.x, y=slot.y, glyphs=glyphs))
            titles.append(art.qr.plan.payload)
            tick()
        svg = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="{page.width:g}mm" height="{page.height:g}mm" '
            f'viewBox="0 0 {page.width:g} {page.height:g}">'
            f"<title>{escape(' '.join(titles))}</title>"
            f"<defs>{glyphs.defs()}</defs>"
            f'<rect width="{page.width:g}" height="{page.height:g}" fill="#fff"/>'
            f"{''.join(body)}</svg>\n"
        )
        path.write_text(svg, encoding="utf-8")
