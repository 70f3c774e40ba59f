"""What a label says is what its data says: whole text unmarked, cut text marked, tags whole."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from labels import ItemLabel, LabelError, SheetLayout
from labels.compose import compose
from labels.fonts import CjkFont
from labels.qr import plan_qr
from labels.textfit import ELLIPSIS
from tests.labels.readback import pdf_text
from toolhut_cli.cli import main

BASE = "https://tools.example.org"


def item(
    tag: str = "HUT03-00001", *, name_zh: str = "冲击电钻", name_en: str = "Impact drill"
) -> ItemLabel:
    return ItemLabel.for_item(
        base_url=BASE, tag=tag, name_zh=name_zh, name_en=name_en, hut_name="一号工具屋"
    )


def drawn(label: ItemLabel, width: float, height: float, font: CjkFont) -> str:
    art = compose(label, width=width, height=height, font=font)
    assert not art.truncated, art.truncated
    return "".join(mark.text for mark in art.texts)


@pytest.mark.parametrize("size", [(40, 30), (40, 20), (20, 40), (63.5, 33.9), (62, 29)])
def test_short_text_is_printed_whole_with_the_hint_and_no_ellipsis(
    font: CjkFont, size: tuple[float, float]
) -> None:
    text = drawn(item(), *size, font)
    assert ELLIPSIS not in text
    for part in ("冲击电钻", "Impact drill", "HUT03-00001", "一号工具屋", "扫码借还"):
        assert part in text.replace(" ", "") or part in text


def test_the_qr_code_gets_the_room_of_a_40x30_label(font: CjkFont) -> None:
    art = compose(item(), width=40, height=30, font=font)
    assert art.qr.plan.side_mm >= 20  # was 16.2 mm, centred with 12 mm blank either side
    assert art.qr.plan.module_mm >= 0.5
    for mark in art.texts:
        assert mark.x >= art.qr.x + art.qr.plan.side_mm  # text beside it, never over it
        assert mark.x + font.width_mm(mark.text, mark.size_pt) <= 40


def test_cut_text_is_marked_and_the_cut_warning_names_only_cut_labels(
    font: CjkFont, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    long = item("L-1", name_zh="超长名称" * 8, name_en="An extremely long English name for a drill")
    art = compose(long, width=40, height=20, font=font)
    assert art.truncated and any(mark.text.endswith(ELLIPSIS) for mark in art.texts)
    with caplog.at_level(logging.WARNING, logger="labels.make"):
        from labels.make import make_labels

        make_labels([item(), long], output=tmp_path / "x.pdf", fmt="pdf",
                    layout=SheetLayout(label_width=40, label_height=20), font=font)  # fmt: skip
    [warning] = [r.getMessage() for r in caplog.records if "cut" in r.getMessage()]
    assert "1 of 2 labels" in warning and "L-1" in warning and "HUT03-00001" not in warning


def test_long_tags_are_printed_whole_and_distinct(
    font: CjkFont, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tags = [f"HUT03-POWERTOOLS-DRILL-{n:06d}" for n in (49, 50, 51)] + ["X" * 32]
    rows = "".join(f"{tag},冲击电钻,Impact drill,阳光花园一号工具屋\n" for tag in tags)
    csv = tmp_path / "items.csv"
    csv.write_text("tag,name_zh,name_en,hut_name\n" + rows, encoding="utf-8")
    for layout in (["--layout", "custom", "--label-size", "40x30"], ["--layout", "3x8"],
                   ["--layout", "custom", "--label-size", "40x20"]):  # fmt: skip
        out = tmp_path / "tags.pdf"
        code = main(["labels", "csv", str(csv), "--base-url", BASE, *layout, "--no-progress",
                     "-o", str(out)])  # fmt: skip
        assert code == 0, capsys.readouterr().err
        # Wrapped lines joined again; pdfium reports a hyphen ending a line as U+FFFE.
        text = "".join(pdf_text(out)[0].split()).replace("\ufffe", "-")
        assert ELLIPSIS not in text
        for tag in tags:
            assert text.count(tag) == 1, (layout, tag, text)


def test_a_tag_that_cannot_be_printed_whole_refuses_the_label(font: CjkFont) -> None:
    # Below the smallest supported label (its QR planned apart) the tag has no room: refused,
    # never cut.
    label = item("W" * 32, name_zh="电钻")
    plan = plan_qr(label.payload, box_mm=20)
    with pytest.raises(LabelError, match="bigger label"):
        compose(label, width=40, height=8, font=font, plan=plan)
