"""Bad input stops make_labels with a clear LabelError before any file is written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from labels import PRESETS, CardLabel, ItemLabel, LabelError, RollLayout, SheetLayout
from labels.fonts import CjkFont, find_font
from labels.make import Refused, make_labels
from tests.labels.readback import decode, pdf_pages

BASE = "https://tools.example.org"


def item(tag: str = "T-1", **kw: str) -> ItemLabel:
    return ItemLabel.for_item(
        base_url=BASE,
        tag=tag,
        name_zh=kw.get("name_zh", "电钻"),
        hut_name=kw.get("hut_name", "一号屋"),
        name_en=kw.get("name_en", ""),
    )


def nothing_written(path: Path) -> bool:
    return not any(path.iterdir())


def test_progress_reports_every_step(font: CjkFont, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    make_labels(
        [item("A"), item("B"), item("C")],
        output=tmp_path / "x.pdf",
        fmt="pdf",
        layout=PRESETS["3x8"],
        font=font,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(n, 6) for n in range(1, 7)]


def test_glyph_missing_from_the_font_is_refused_before_writing(
    font: CjkFont, tmp_path: Path
) -> None:
    labels = [item("A"), item("B", name_zh="电钻 🔨"), item("C", hut_name="屋\U0002a6a5")]
    with pytest.raises(LabelError) as caught:
        make_labels(labels, output=tmp_path / "x.pdf", fmt="pdf", layout=PRESETS["3x8"], font=font)
    message = str(caught.value)
    assert "label 2 (B)" in message and "🔨" in message
    assert "label 3 (C)" in message
    assert nothing_written(tmp_path)


def test_url_too_long_for_a_small_label_is_refused_before_writing(
    font: CjkFont, tmp_path: Path
) -> None:
    long_base = "https://tools.example.org/" + "community-" * 15
    labels = [
        item("A"),
        ItemLabel.for_item(base_url=long_base, tag="B", name_zh="梯子", hut_name="屋"),
    ]
    small = SheetLayout(label_width=40, label_height=20)
    with pytest.raises(LabelError, match=r"label 2 \(B\).*bigger label"):
        make_labels(labels, output=tmp_path / "out", fmt="svg", layout=small, font=font)
    assert nothing_written(tmp_path)
    # The same labels fit a bigger label.
    assert (
        len(
            make_labels(
                labels, output=tmp_path / "ok.pdf", fmt="pdf", layout=PRESETS["2x7"], font=font
            )
        )
        == 1
    )


def test_output_kind_must_match_the_format(font: CjkFont, tmp_path: Path) -> None:
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(LabelError, match="is a file"):
        make_labels(
            [item()], output=tmp_path / "file.png", fmt="png", layout=PRESETS["roll62"], font=font
        )
    with pytest.raises(LabelError, match="is a directory"):
        make_labels([item()], output=tmp_path, fmt="pdf", layout=PRESETS["3x8"], font=font)


def test_bad_arguments_are_refused(font: CjkFont, tmp_path: Path) -> None:
    out = tmp_path / "x.pdf"
    with pytest.raises(LabelError, match="no labels"):
        make_labels([], output=out, fmt="pdf", layout=PRESETS["3x8"], font=font)
    with pytest.raises(LabelError, match="unknown format"):
        make_labels([item()], output=out, fmt="jpg", layout=PRESETS["3x8"], font=font)  # type: ignore[arg-type]
    with pytest.raises(LabelError, match="not an ItemLabel"):
        make_labels([item(), "x"], output=out, fmt="pdf", layout=PRESETS["3x8"], font=font)  # type: ignore[list-item]
    assert nothing_written(tmp_path)


def test_a_font_without_chinese_is_refused_naming_the_package(tmp_path: Path) -> None:
    dejavu = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not dejavu.exists():
        pytest.skip("DejaVu not installed: cannot test a font without Chinese glyphs")
    with pytest.raises(LabelError, match="fonts-wqy-microhei"):
        find_font(dejavu)
    with pytest.raises(LabelError, match="does not exist"):
        find_font(tmp_path / "nope.ttf")


def test_font_comes_from_the_environment_when_not_given(font: CjkFont) -> None:
    assert find_font(env={"TOOLHUT_LABELS_FONT": f"{font.path}#{font.index}"}) == font


def test_existing_pdf_is_replaced_whole(font: CjkFont, tmp_path: Path) -> None:
    out = tmp_path / "x.pdf"
    out.write_bytes(b"old")
    make_labels(
        [item(), CardLabel.for_card(card_uid="0A0B0C0D", key=b"k" * 16, name="李四")],
        output=out,
        fmt="pdf",
        layout=RollLayout(),
        font=font,
    )
    assert out.read_bytes().startswith(b"%PDF")
    assert [p.name for p in tmp_path.iterdir()] == ["x.pdf"]  # no temporary file left


def test_with_refuse_the_others_are_made_and_the_refused_reported(
    font: CjkFont, tmp_path: Path
) -> None:
    labels = [item("A"), item("B", name_zh="电钻 🔨"), item("C")]
    refused: list[Refused] = []
    out = tmp_path / "x.pdf"
    make_labels(labels, output=out, fmt="pdf", layout=PRESETS["3x8"], font=font,
                refuse=refused.append)  # fmt: skip
    assert [(r.number, r.key) for r in refused] == [(2, "B")] and "🔨" in refused[0].reason
    assert sorted(decode(pdf_pages(out)[0])) == [f"{BASE}/i/A", f"{BASE}/i/C"]
    # When none can be made there is nothing to write.
    with pytest.raises(LabelError, match="label 1 \\(B\\)"):
        make_labels([labels[1]], output=tmp_path / "y.pdf", fmt="pdf", layout=PRESETS["3x8"],
                    font=font, refuse=refused.append)  # fmt: skip
    assert not (tmp_path / "y.pdf").exists()


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
@pytest.mark.parametrize("fmt", ["pdf", "png", "svg"])
def test_files_are_created_as_the_umask_says(
    font: CjkFont, tmp_path: Path, umask: int, fmt: str
) -> None:
    out = tmp_path / ("x.pdf" if fmt == "pdf" else "out")
    old = os.umask(umask)
    try:
        paths = make_labels([item()], output=out, fmt=fmt, layout=PRESETS["3x8"], font=font)  # type: ignore[arg-type]
    finally:
        os.umask(old)
    assert [stat.S_IMODE(p.stat().st_mode) for p in paths] == [0o666 & ~umask]
