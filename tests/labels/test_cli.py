from __future__ import annotations

import re
from pathlib import Path

import pytest

from labels.fonts import CjkFont
from tests.labels.readback import decode, pdf_pages, svg_image
from toolhut.card_ref import card_ref
from toolhut_cli.cli import main


def svg_text(path: Path) -> str:
    """The printed text of an SVG label sheet (its glyph groups carry their text)."""
    return "".join(re.findall(r'aria-label="([^"]*)"', path.read_text(encoding="utf-8")))


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


def test_card_labels_carry_a_reference_and_no_address_by_default(
    font: CjkFont, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cards = tmp_path / "cards.csv"
    cards.write_text("name,building_unit,card_uid\n张三,3栋2单元1201,04A1B2C3\n", encoding="utf-8")
    key = tmp_path / "card.key"
    key.write_bytes(b"community-secret-2024\n")
    out = tmp_path / "svg"
    args = ["labels", "csv", str(cards), "--cards", "--format", "svg", "--layout", "custom",
            "--label-size", "50x30", "--margins", "10,10", "--gaps", "2,2",
            "--no-progress"]  # fmt: skip
    assert main([*args, "-o", str(out)]) == 2  # no key: nothing written
    assert "--card-key-file" in capsys.readouterr().err and not out.exists()

    assert main([*args, "--card-key-file", str(key), "-o", str(out)]) == 0
    svg = svg_text(out / "page-001.svg")
    [payload] = decode(svg_image(out / "page-001.svg"))
    assert payload == card_ref("04A1B2C3", key=b"community-secret-2024")
    for secret in ("04A1B2C3", "张三", "3栋", "1201"):
        assert secret not in svg and secret not in (out / "page-001.svg").read_text()
    assert "共享工具屋会员卡" in svg and payload in svg

    # The name only when asked for; the flat only with its own flag.
    named = tmp_path / "named"
    assert main([*args, "--card-key-file", str(key), "--with-name", "-o", str(named)]) == 0
    text = svg_text(named / "page-001.svg")
    assert "张三" in text and "3栋" not in text


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


def test_a_row_the_font_cannot_print_is_refused_and_the_others_made(
    font: CjkFont, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "items.csv"
    rows.write_text(
        "tag,name_zh,name_en,hut_name\nD-1,电钻,Drill,一号屋\nH-2,锤子🔨,,一号屋\n"
        "bad tag,梯子,,一号屋\nL-3,梯子,,一号屋\n",
        encoding="utf-8",
    )
    out = tmp_path / "labels.pdf"
    args = ["labels", "csv", str(rows), "--base-url", "https://t.example.org", "--no-progress"]
    assert main([*args, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "2 refused" in err and "line 4: invalid tag 'bad tag'" in err
    assert "(H-2): font" in err and "🔨" in err
    assert sorted(decode(pdf_pages(out)[0])) == [
        "https://t.example.org/i/D-1",
        "https://t.example.org/i/L-3",
    ]

    strict = tmp_path / "strict.pdf"
    assert main([*args, "--strict", "-o", str(strict)]) == 2
    assert "bad tag" in capsys.readouterr().err
    assert not strict.exists()
    rows.write_text(
        "tag,name_zh,name_en,hut_name\nD-1,电钻,Drill,一号屋\nH-2,锤子🔨,,一号屋\n",
        encoding="utf-8",
    )
    assert main([*args, "--strict", "-o", str(strict)]) == 2
    assert "🔨" in capsys.readouterr().err
    assert not strict.exists()
