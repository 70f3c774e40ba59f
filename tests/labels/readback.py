"""Reading labels back the way a scanner and a printer would: rasterise, then decode."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import resvg_py
import zxingcpp
from PIL import Image

from labels.compose import Art
from labels.fonts import CjkFont

DPI = 300
PX = DPI / 25.4
_PT_MM = 25.4 / 72


def pdf_pages(path: Path, *, dpi: int = DPI) -> list[Image.Image]:
    pdf = pdfium.PdfDocument(str(path))
    try:
        return [
            pdf[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            for i in range(len(pdf))
        ]
    finally:
        pdf.close()


def pdf_sizes(path: Path) -> list[tuple[float, float]]:
    pdf = pdfium.PdfDocument(str(path))
    try:
        return [tuple(pdf[i].get_size()) for i in range(len(pdf))]
    finally:
        pdf.close()


def pdf_text(path: Path) -> list[str]:
    pdf = pdfium.PdfDocument(str(path))
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def svg_image(path: Path, *, dpi: int = DPI) -> Image.Image:
    from io import BytesIO

    png = bytes(resvg_py.svg_to_bytes(svg_path=str(path), dpi=dpi, background="#ffffff"))
    return Image.open(BytesIO(png)).convert("L")


def crop_mm(
    image: Image.Image, *, x: float, y: float, w: float, h: float, dpi: int = DPI
) -> Image.Image:
    px = dpi / 25.4
    return image.crop((round(x * px), round(y * px), round((x + w) * px), round((y + h) * px)))


def decode(image: Image.Image) -> list[str]:
    found = zxingcpp.read_barcodes(image)
    return [r.text for r in found if r.format == zxingcpp.BarcodeFormat.QRCode]


def ink(image: Image.Image) -> float:
    """Share of dark pixels."""
    hist = image.convert("L").histogram()
    return sum(hist[:128]) / max(1, sum(hist))


def first_text_box(art: Art, font: CjkFont, text: str) -> tuple[float, float, float, float]:
    """(x, y, w, h) in mm of the first drawn line that starts ``text``'s block."""
    for mark in art.texts:
        if text.startswith(mark.text) or mark.text.startswith(text):
            em = mark.size_pt * _PT_MM
            return (
                mark.x,
                mark.baseline - font.ascent * em,
                font.width_mm(mark.text, mark.size_pt),
                (font.ascent + font.descent) * em,
            )
    raise AssertionError(f"{text!r} not drawn: {[m.text for m in art.texts]}")
