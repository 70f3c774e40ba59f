"""Every QR code in every output format decodes to its payload; Chinese text has real glyphs."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops

from labels import PRESETS, CardLabel, ItemLabel, RollLayout, SheetLayout
from labels.compose import compose
from labels.fonts import CjkFont
from labels.layout import Layout
from labels.make import make_labels
from tests.labels.readback import (
    crop_mm,
    decode,
    first_text_box,
    ink,
    pdf_pages,
    pdf_sizes,
    pdf_text,
    svg_image,
)

BASE = "https://tools.example.org"
CARD_KEY = b"test-card-key-0123456789"
SMALLEST_SHEET = SheetLayout(
    label_width=40, label_height=20, margin_top=8, margin_left=5, gap_x=2, gap_y=1
)
SMALLEST_ROLL = RollLayout(label_width=40, label_height=20, dpi=300)
SMALLEST_PORTRAIT = RollLayout(label_width=20, label_height=40, dpi=300)


def items(count: int, *, name: str = "博世冲击电钻（含钻头套装）") -> list[ItemLabel | CardLabel]:
    return [
        ItemLabel.for_item(
            base_url=BASE,
            tag=f"HUT1-{n:05d}",
            name_zh=name,
            name_en="Impact drill" if n % 2 else "",
            hut_name="阳光花园一号工具屋",
        )
        for n in range(count)
    ]


def cards(count: int) -> list[ItemLabel | CardLabel]:
    return [
        CardLabel.for_card(
            card_uid=f"04A1B2C3{n:04X}", key=CARD_KEY, name="张小明" if n % 2 else ""
        )
        for n in range(count)
    ]


def slot_images(paths: list[Path], fmt: str, layout: Layout, count: int) -> list[Image.Image]:
    """One image per label, cut from the rendered pages exactly where the layout puts it."""
    if fmt == "pdf":
        pages = pdf_pages(paths[0])
    elif fmt == "svg":
        pages = [svg_image(p) for p in paths]
    else:
        pages = [Image.open(p).convert("L") for p in paths]
    assert len(pages) == layout.page_count(count)
    out = []
    for number, page in enumerate(layout.pages(count)):
        for slot in page.slots:
            out.append(
                crop_mm(
                    pages[number], x=slot.x, y=slot.y, w=layout.label_width, h=layout.label_height
                )
            )
    return out


def check_all_decode(
    labels: list[ItemLabel | CardLabel], fmt: str, layout: Layout, out: Path
) -> list[Image.Image]:
    paths = make_labels(labels, output=out, fmt=fmt, layout=layout)  # type: ignore[arg-type]
    images = slot_images(paths, fmt, layout, len(labels))
    assert [decode(image) for image in images] == [[label.payload] for label in labels]
    return images


@pytest.mark.parametrize("fmt", ["pdf", "png", "svg"])
@pytest.mark.parametrize(
    "layout",
    [SMALLEST_SHEET, SMALLEST_ROLL, SMALLEST_PORTRAIT],
    ids=["sheet40x20", "roll40x20", "roll20x40"],
)
def test_every_qr_decodes_at_the_smallest_label_size(
    font: CjkFont, tmp_path: Path, fmt: str, layout: Layout
) -> None:
    count = 12 if isinstance(layout, RollLayout) else 75  # 75 spills onto a second sheet
    labels = items(count - 2) + cards(2)
    out = tmp_path / ("labels.pdf" if fmt == "pdf" else "out")
    check_all_decode(labels, fmt, layout, out)


@pytest.mark.parametrize("preset", ["3x8", "2x7", "roll62"])
def test_presets_decode_in_pdf(font: CjkFont, tmp_path: Path, preset: str) -> None:
    check_all_decode(items(30) + cards(3), "pdf", PRESETS[preset], tmp_path / "l.pdf")


def test_roll62_png_is_62mm_at_300_dpi(font: CjkFont, tmp_path: Path) -> None:
    paths = make_labels(items(2), output=tmp_path / "png", fmt="png", layout=PRESETS["roll62"])
    assert [p.name for p in paths] == ["label-0001-HUT1-00000.png", "label-0002-HUT1-00001.png"]
    with Image.open(paths[0]) as image:
        assert image.size == (732, 343)
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)  # stored per metre


def test_a_100_item_hut_gives_five_3x8_pages(font: CjkFont, tmp_path: Path) -> None:
    out = tmp_path / "hut.pdf"
    labels = items(100)
    make_labels(labels, output=out, fmt="pdf", layout=PRESETS["3x8"])
    assert pdf_sizes(out) == [pytest.approx((595.28, 841.89), abs=0.01)] * 5  # A4 in points
    found = [sorted(decode(page)) for page in pdf_pages(out)]
    expected = [sorted(lab.payload for lab in labels[i : i + 24]) for i in range(0, 100, 24)]
    assert found == expected


def test_pdf_embeds_the_chinese_text(font: CjkFont, tmp_path: Path) -> None:
    out = tmp_path / "l.pdf"
    make_labels(items(1, name="瑜伽垫") + cards(1), output=out, fmt="pdf", layout=PRESETS["2x7"])
    text = pdf_text(out)[0]
    for word in ("瑜伽垫", "阳光花园一号工具屋", "扫码借还", "HUT1-00000", "共享工具屋会员卡"):
        assert word in text


def _name_crops(font: CjkFont, tmp_path: Path, fmt: str, layout: Layout) -> list[Image.Image]:
    """The name_zh area of two labels whose names differ only in their Chinese characters."""
    names = ["电钻急救", "梯子瑜伽"]
    labels: list[ItemLabel | CardLabel] = [
        ItemLabel.for_item(base_url=BASE, tag="T1", name_zh=n, hut_name="一号屋") for n in names
    ]
    out = tmp_path / ("l.pdf" if fmt == "pdf" else fmt)
    paths = make_labels(labels, output=out, fmt=fmt, layout=layout)  # type: ignore[arg-type]
    images = slot_images(paths, fmt, layout, 2)
    crops = []
    for label, image in zip(labels, images, strict=True):
        assert isinstance(label, ItemLabel)
        art = compose(
            label,
            width=layout.label_width,
            height=layout.label_height,
            font=font,
            dot_mm=25.4 / 300 if fmt == "png" else None,
        )
        x, y, w, h = first_text_box(art, font, label.name_zh)
        crops.append(crop_mm(image, x=x, y=y, w=w, h=h))
    return crops


@pytest.mark.parametrize("fmt", ["pdf", "png", "svg"])
@pytest.mark.parametrize("layout", [SMALLEST_SHEET, PRESETS["roll62"]], ids=["smallest", "roll62"])
def test_chinese_text_is_drawn_with_real_glyphs(
    font: CjkFont, tmp_path: Path, fmt: str, layout: Layout
) -> None:
    first, second = _name_crops(font, tmp_path, fmt, layout)
    for crop in (first, second):
        assert 0.08 < ink(crop) < 0.6, "glyphs should put ink on part of their box"
    # Missing-glyph boxes look alike whatever the character; real glyphs do not.
    difference = ImageChops.difference(first, second.resize(first.size))
    assert ink(Image.eval(difference, lambda v: 255 - v)) > 0.05


def test_long_names_stay_inside_the_label(font: CjkFont) -> None:
    label = items(1, name="超" * 32)[0]
    for layout in (SMALLEST_SHEET, SMALLEST_PORTRAIT, PRESETS["3x8"], PRESETS["roll62"]):
        art = compose(label, width=layout.label_width, height=layout.label_height, font=font)
        for mark in art.texts:
            assert mark.x + font.width_mm(mark.text, mark.size_pt) <= layout.label_width
            assert mark.baseline + font.descent * mark.size_pt * 25.4 / 72 <= layout.label_height
        qr = art.qr
        assert qr.x >= 0 and qr.x + qr.plan.side_mm <= layout.label_width
        if layout is not SMALLEST_SHEET and layout is not SMALLEST_PORTRAIT:
            assert not art.truncated, layout
