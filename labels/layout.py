"""Where labels sit: A4 sheet grids and label-printer rolls, in millimetres, y pointing down."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from labels.errors import LabelError

A4 = (210.0, 297.0)
# Below this the QR modules or the text get too small to scan or read reliably.
MIN_LABEL_SHORT_MM = 20.0
MIN_LABEL_LONG_MM = 40.0
_EPS = 1e-6


def check_label_size(width: float, height: float) -> None:
    if (
        min(width, height) < MIN_LABEL_SHORT_MM - _EPS
        or max(width, height) < MIN_LABEL_LONG_MM - _EPS
    ):
        raise LabelError(
            f"label {width:g}x{height:g} mm is too small: the smallest supported label is "
            f"{MIN_LABEL_LONG_MM:g}x{MIN_LABEL_SHORT_MM:g} mm"
        )


@dataclass(frozen=True, slots=True)
class Slot:
    index: int  # position of the label in the caller's sequence
    x: float  # top-left corner on the page, mm
    y: float


@dataclass(frozen=True, slots=True)
class Page:
    width: float
    height: float
    slots: tuple[Slot, ...]


@dataclass(frozen=True, slots=True)
class SheetLayout:
    """A grid of labels on a page. ``cols``/``rows`` default to as many as fit."""

    label_width: float
    label_height: float
    margin_top: float = 0.0
    margin_left: float = 0.0
    gap_x: float = 0.0
    gap_y: float = 0.0
    page_width: float = A4[0]
    page_height: float = A4[1]
    cols: int | None = None
    rows: int | None = None
    name: str = "custom"

    def __post_init__(self) -> None:
        sizes = {
            "label width": self.label_width,
            "label height": self.label_height,
            "page width": self.page_width,
            "page height": self.page_height,
        }
        for what, value in sizes.items():
            if not (math.isfinite(value) and value > 0):
                raise LabelError(f"{what} must be a positive number of mm, got {value!r}")
        spacing = {
            "top margin": self.margin_top,
            "left margin": self.margin_left,
            "horizontal gap": self.gap_x,
            "vertical gap": self.gap_y,
        }
        for what, value in spacing.items():
            if not (math.isfinite(value) and value >= 0):
                raise LabelError(f"{what} must be zero or more mm, got {value!r}")
        check_label_size(self.label_width, self.label_height)
        cols = (
            self.cols
            if self.cols is not None
            else self._fit(self.page_width, self.margin_left, self.label_width, self.gap_x)
        )
        rows = (
            self.rows
            if self.rows is not None
            else self._fit(self.page_height, self.margin_top, self.label_height, self.gap_y)
        )
        used_w = self.margin_left + cols * self.label_width + (cols - 1) * self.gap_x
        used_h = self.margin_top + rows * self.label_height + (rows - 1) * self.gap_y
        if (
            cols < 1
            or rows < 1
            or used_w > self.page_width + _EPS
            or used_h > self.page_height + _EPS
        ):
            raise LabelError(
                f"impossible grid: {cols} x {rows} labels of {self.label_width:g}x"
                f"{self.label_height:g} mm with margins {self.margin_left:g}/"
                f"{self.margin_top:g} mm "
                f"and gaps {self.gap_x:g}/{self.gap_y:g} mm do not fit a "
                f"{self.page_width:g}x{self.page_height:g} mm page"
            )
        object.__setattr__(self, "cols", cols)
        object.__setattr__(self, "rows", rows)

    @staticmethod
    def _fit(page: float, margin: float, label: float, gap: float) -> int:
        # The far margin mirrors the near one, as on commercial label stock.
        usable = page - 2 * margin
        return max(0, math.floor((usable + gap + _EPS) / (label + gap)))

    @property
    def per_page(self) -> int:
        assert self.cols is not None and self.rows is not None
        return self.cols * self.rows

    def position(self, n: int) -> tuple[int, float, float]:
        """Page number and top-left corner (mm) of the n-th label, filling rows first."""
        assert self.cols is not None
        page, k = divmod(n, self.per_page)
        row, col = divmod(k, self.cols)
        x = self.margin_left + col * (self.label_width + self.gap_x)
        y = self.margin_top + row * (self.label_height + self.gap_y)
        return page, x, y

    def page_count(self, count: int) -> int:
        return math.ceil(count / self.per_page)

    def pages(self, count: int) -> Iterator[Page]:
        for page in range(self.page_count(count)):
            first = page * self.per_page
            slots = []
            for n in range(first, min(count, first + self.per_page)):
                _, x, y = self.position(n)
                slots.append(Slot(n, x, y))
            yield Page(self.page_width, self.page_height, tuple(slots))


@dataclass(frozen=True, slots=True)
class RollLayout:
    """One label per page/image, for label printers (Brother QL 62 mm tape and the like)."""

    label_width: float = 62.0
    label_height: float = 29.0
    dpi: int = 300
    name: str = "roll"

    def __post_init__(self) -> None:
        for what, value in {
            "label width": self.label_width,
            "label height": self.label_height,
        }.items():
            if not (math.isfinite(value) and value > 0):
                raise LabelError(f"{what} must be a positive number of mm, got {value!r}")
        if not 100 <= self.dpi <= 1200:
            raise LabelError(f"dpi must be between 100 and 1200, got {self.dpi}")
        check_label_size(self.label_width, self.label_height)

    def page_count(self, count: int) -> int:
        return count

    def pages(self, count: int) -> Iterator[Page]:
        for n in range(count):
            yield Page(self.label_width, self.label_height, (Slot(n, 0.0, 0.0),))


Layout = SheetLayout | RollLayout

# Common A4 stock: 3x8 is the 63.5x33.9 mm kind (L7159 and compatibles), 2x7 the 99.1x38.1 mm
# kind (L7163). Check the stock's own data sheet and use a custom grid if it differs.
PRESETS: dict[str, Layout] = {
    "3x8": SheetLayout(
        name="3x8",
        label_width=63.5,
        label_height=33.9,
        margin_top=12.9,
        margin_left=7.25,
        gap_x=2.5,
        gap_y=0.0,
        cols=3,
        rows=8,
    ),
    "2x7": SheetLayout(
        name="2x7",
        label_width=99.1,
        label_height=38.1,
        margin_top=15.1,
        margin_left=4.65,
        gap_x=2.5,
        gap_y=0.0,
        cols=2,
        rows=7,
    ),
    "roll62": RollLayout(name="roll62", label_width=62.0, label_height=29.0, dpi=300),
}


def label_size(layout: Layout) -> tuple[float, float]:
    return layout.label_width, layout.label_height
