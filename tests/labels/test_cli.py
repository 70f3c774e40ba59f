from __future__ import annotations

from pathlib import Path

import pytest

from labels.fonts import CjkFont
from tests.labels.readback import decode, pdf_pages, svg_image
from toolhut.cli import main


def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "items.csv"
    path.write_text(
        "tag,name_zh,name_en,hut_name\nD-1,电钻,Drill,一号屋\nL-2,梯子,,一号屋\n", encoding="utf-8"
    )
    return path


def test_csv_to_pdf(font: CjkFont, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "labels.pdf"
    code = main(
        [
            "labels",
            "csv",
            str(csv_file(tmp_path)),
            "--base-url",
            "https://t.example.org",
            "--layout",
            "2x7",
            "-o",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert sorted(decode(pdf_pages(out)[0])) == [
        "https://t.example.org/i/D-1",
        "https://t.example.org/i/L-2",
    ]
    assert "2 labels -> 1 file(s)" in capsys.readouterr().out


def test_card_csv_to_custom_grid_svg(font: CjkFont, tmp_path: Path) -> None:
    cards = tmp_path / "cards.csv"
    cards.write_text("name,building_unit,card_uid\n张三,3栋2单元,04A1B2C3\n", encoding="utf-8")
    out = tmp_path / "svg"
    code = main(
        [
            "labels",
            "csv",
            str(cards),
            "--cards",
            "--format",
            "svg",
            "--layout",
            "custom",
            "--label-size",
            "50x30",
            "--margins",
            "10,10",
            "--gaps",
            "2,2",
            "-o",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    assert decode(svg_image(out / "page-001.svg")) == ["04A1B2C3"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--base-url", "t.example.org"], "needs a scheme"),
        ([], "need --base-url"),
        (
            ["--base-url", "https://t.example.org", "--layout", "custom", "--label-size", "300x40"],
            "impossible grid",
        ),
        (["--base-url", "https://t.example.org", "--layout", "custom"], "needs --label-size"),
        (
            ["--base-url", "https://t.example.org", "--layout", "roll", "--label-size", "62"],
            "expected two numbers",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message_and_writes_nothing(
    font: CjkFont,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "out" / "labels.pdf"
    code = main(["labels", "csv", str(csv_file(tmp_path)), "-o", str(out), *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.parent.exists()


def test_unreachable_server_is_a_clear_error(
    font: CjkFont, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 9 on loopback: nothing listens, so the connection is refused at once.
    code = main(
        [
            "labels",
            "items",
            "--server",
            "http://127.0.0.1:9",
            "--base-url",
            "https://t.example.org",
            "-o",
            str(tmp_path / "x.pdf"),
        ]
    )
    assert code == 2
    assert "GET http://127.0.0.1:9/api/v1/items" in capsys.readouterr().err
