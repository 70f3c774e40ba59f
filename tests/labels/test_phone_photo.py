"""Labels scan from a phone's photo, not only from a perfect rendering."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageFilter

from labels import ItemLabel, SheetLayout
from labels.fonts import CjkFont
from labels.make import make_labels
from tests.labels.readback import crop_mm, decode, pdf_pages

PHOTO_DPI = 200
BLUR_PX = 1.7  # gaussian sigma at 200 dpi: ~0.2 mm of focus blur and hand shake
TILT_DEG = 2.0
JPEG_QUALITY = 60
SHEET_40X30 = SheetLayout(label_width=40, label_height=30, margin_top=6, margin_left=5)


def phone_photo(image: Image.Image) -> Image.Image:
    tilted = image.filter(ImageFilter.GaussianBlur(BLUR_PX)).rotate(
        TILT_DEG, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255
    )
    jpeg = io.BytesIO()
    tilted.save(jpeg, format="JPEG", quality=JPEG_QUALITY)
    return Image.open(io.BytesIO(jpeg.getvalue()))


def test_every_40x30_label_of_a_sheet_decodes_from_a_phone_photo(
    font: CjkFont, tmp_path: Path
) -> None:
    labels = [
        ItemLabel.for_item(
            base_url="https://tools.example.org",
            tag=f"HUT03-{n:05d}",
            name_zh="冲击电钻",
            name_en="Impact drill",
            hut_name="阳光花园一号工具屋",
        )
        for n in range(200)
    ]
    out = tmp_path / "sheet.pdf"
    make_labels(labels, output=out, fmt="pdf", layout=SHEET_40X30, font=font)
    pages = pdf_pages(out, dpi=PHOTO_DPI)
    unread = []
    for number, page in enumerate(SHEET_40X30.pages(len(labels))):
        for slot in page.slots:
            label = crop_mm(pages[number], x=slot.x, y=slot.y, w=40, h=30, dpi=PHOTO_DPI)
            if decode(phone_photo(label)) != [labels[slot.index].payload]:
                unread.append(labels[slot.index].tag)
    assert unread == [], f"{len(unread)} of {len(labels)} unread"
