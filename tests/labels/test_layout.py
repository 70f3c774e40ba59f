from __future__ import annotations

from typing import Any

import pytest

from labels import PRESETS, LabelError, RollLayout, SheetLayout


def test_3x8_preset_fills_rows_first_with_published_geometry() -> None:
    sheet = PRESETS["3x8"]
    assert isinstance(sheet, SheetLayout)
    assert (sheet.cols, sheet.rows, sheet.per_page) == (3, 8, 24)
    assert sheet.position(0) == (0, 7.25, 12.9)
    assert sheet.position(1) == pytest.approx((0, 7.25 + 63.5 + 2.5, 12.9))
    assert sheet.position(3) == pytest.approx((0, 7.25, 12.9 + 33.9))
    page, x, y = sheet.position(23)
    assert page == 0
    assert x + 63.5 == pytest.approx(210 - 7.25)  # right margin mirrors the left one
    assert y + 33.9 == pytest.approx(297 - 12.9)
    assert sheet.position(24) == (1, 7.25, 12.9)


def test_2x7_preset() -> None:
    sheet = PRESETS["2x7"]
    assert isinstance(sheet, SheetLayout)
    assert (sheet.cols, sheet.rows) == (2, 7)
    page, x, y = sheet.position(13)
    assert (page, x + 99.1, y + 38.1) == pytest.approx((0, 210 - 4.65, 15.1 + 7 * 38.1))


@pytest.mark.parametrize(("name", "pages", "last"), [("3x8", 5, 4), ("2x7", 8, 2)])
def test_a_100_item_hut_gives_the_right_pages(name: str, pages: int, last: int) -> None:
    sheet = PRESETS[name]
    got = list(sheet.pages(100))
    assert len(got) == sheet.page_count(100) == pages
    assert [s.index for p in got for s in p.slots] == list(range(100))
    assert len(got[-1].slots) == last


def test_custom_grid_fits_as_many_as_the_page_allows() -> None:
    sheet = SheetLayout(
        label_width=40, label_height=20, margin_top=10, margin_left=5, gap_x=2, gap_y=1
    )
    # (210 - 2*5 + 2) // 42 = 4 columns; (297 - 2*10 + 1) // 21 = 13 rows
    assert (sheet.cols, sheet.rows) == (4, 13)
    assert sheet.position(5) == pytest.approx((0, 5 + 42, 10 + 21))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"label_width": 220, "label_height": 30},
        {"label_width": 100, "label_height": 300},
        {"label_width": 70, "label_height": 37, "cols": 4},
        {"label_width": 70, "label_height": 37, "rows": 8, "margin_top": 10},
        {"label_width": 100, "label_height": 40, "margin_left": 120},
    ],
)
def test_impossible_grid_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(LabelError, match="impossible grid"):
        SheetLayout(**kwargs)


@pytest.mark.parametrize("size", [(30, 20), (40, 15), (19, 60)])
def test_labels_below_the_smallest_size_are_refused(size: tuple[float, float]) -> None:
    with pytest.raises(LabelError, match="smallest supported label is 40x20"):
        SheetLayout(label_width=size[0], label_height=size[1])
    with pytest.raises(LabelError, match="smallest"):
        RollLayout(label_width=size[0], label_height=size[1])


def test_negative_or_nan_sizes_are_refused() -> None:
    with pytest.raises(LabelError, match="gap"):
        SheetLayout(label_width=50, label_height=30, gap_x=-1)
    with pytest.raises(LabelError, match="label width"):
        SheetLayout(label_width=float("nan"), label_height=30)
    with pytest.raises(LabelError, match="dpi"):
        RollLayout(dpi=50)


def test_roll_gives_one_label_per_page() -> None:
    roll = PRESETS["roll62"]
    pages = list(roll.pages(3))
    assert [(p.width, p.height, len(p.slots)) for p in pages] == [(62, 29, 1)] * 3
