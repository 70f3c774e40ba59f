"""A report PDF read back as a reader would get it: its text extracted, its pages drawn."""

from __future__ import annotations

import pypdfium2 as pdfium
from PIL import Image

from server.reports.pdf import BAR


def pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def first_page(data: bytes, *, dpi: int = 72) -> Image.Image:
    pdf = pdfium.PdfDocument(data)
    try:
        return pdf[0].render(scale=dpi / 72).to_pil().convert("RGB")
    finally:
        pdf.close()


def bar_pixels(image: Image.Image) -> int:
    """How many pixels are drawn in the charts' bar colour."""
    want = tuple(int(BAR[i : i + 2], 16) for i in (1, 3, 5))
    return sum(
        count
        for count, colour in image.getcolors(maxcolors=1 << 20) or []
        if all(abs(a - b) <= 8 for a, b in zip(colour, want, strict=True))
    )
