"""PDF output: one file, vector QR codes and embedded (subset) TrueType text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from labels.compose import Art
from labels.fonts import CjkFont
from labels.layout import Page
from labels.qr import QUIET_ZONE


def draw_art(
    canvas: Canvas, art: Art, *, x: float, y: float, page_height: float, font: CjkFont
) -> None:
    """Draw one label whose top-left corner is at (x, y) mm from the page's top-left."""
    plan = art.qr.plan
    m = plan.module_mm
    left = x + art.qr.x + QUIET_ZONE * m
    top = y + art.qr.y + QUIET_ZONE * m
    path = canvas.beginPath()
    for row, col, length in plan.runs():
        # PDF's y axis points up: flip around the page height.
        path.rect(
            (left + col * m) * mm, (page_height - top - (row + 1) * m) * mm, length * m * mm, m * mm
        )
    canvas.setFillGray(0)
    canvas.drawPath(path, stroke=0, fill=1)
    for t in art.texts:
        canvas.setFont(font.pdf_name, t.size_pt)
        canvas.drawString((x + t.x) * mm, (page_height - y - t.baseline) * mm, t.text)


def write_pdf(
    path: Path,
    *,
    pages: Sequence[Page],
    arts: Sequence[Art],
    font: CjkFont,
    title: str,
    tick: Callable[[], None],
) -> None:
    first = pages[0]
    canvas = Canvas(str(path), pagesize=(first.width * mm, first.height * mm), invariant=True)
    canvas.setTitle(title)
    canvas.setCreator("toolhut labels")
    for page in pages:
        canvas.setPageSize((page.width * mm, page.height * mm))
        for slot in page.slots:
            draw_art(
                canvas, arts[slot.index], x=slot.x, y=slot.y, page_height=page.height, font=font
            )
            tick()
        canvas.showPage()
    canvas.save()
