"""`toolhut labels hut-cards`: the cards that hang by the hut's scanner scan back to exactly
the texts the server parses, to the condition or score each card says in words."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from labels import HutCard, LabelError, SheetLayout, make_labels
from labels.compose import HUT_CARD_QR_MM, Art, compose
from labels.fonts import CjkFont
from labels.hut_cards import hut_card, hut_cards
from server.domain import ItemCondition
from server.domain.labels import (
    is_sign_in_card,
    parse_condition_text,
    parse_rating_text,
    parse_scan_text,
)
from tests.labels.readback import decode, pdf_pages, pdf_text, svg_image
from toolhut_cli.cli import main

# What each card must mean to the server, written out here rather than read from the code.
CONDITIONS = {
    "COND:OK": ItemCondition.OK,
    "COND:REPAIR": ItemCondition.NEEDS_REPAIR,
    "COND:MISSING": ItemCondition.MISSING_PART,
}
WORD_SCORES = {"RATE:GOOD": 5, "RATE:OK": 3, "RATE:BAD": 1}
SCORES = {f"RATE:{n}": n for n in range(1, 6)}
SIGN_IN = "SIGNIN:PHONE"
EVERY_CARD = [*CONDITIONS, *WORD_SCORES, *SCORES, SIGN_IN]


def run(tmp_path: Path, *extra: str, out: str = "cards.pdf") -> Path:
    path = tmp_path / out
    assert main(["labels", "hut-cards", "--no-progress", *extra, "-o", str(path)]) == 0
    return path


def what_the_server_reads(code: str) -> tuple[str, object]:
    """A scanned card as the server's parsers take it; never an item tag."""
    assert parse_scan_text(code) is None, f"{code} would read as an item"
    if (condition := parse_condition_text(code)) is not None:
        return "condition", condition
    if (score := parse_rating_text(code)) is not None:
        return "rating", score
    assert is_sign_in_card(code), f"{code} means nothing to the server"
    return "sign-in", None


def test_every_card_scans_back_to_what_it_says(
    font: CjkFont, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(tmp_path)  # --set all, 2x7 sheets
    assert "12 labels -> 1 file(s)" in capsys.readouterr().out
    [page] = pdf_pages(out)
    codes = decode(page)
    assert sorted(codes) == sorted(EVERY_CARD)
    meant = {code: what_the_server_reads(code) for code in codes}
    assert meant == {
        **{code: ("condition", condition) for code, condition in CONDITIONS.items()},
        **{code: ("rating", score) for code, score in {**WORD_SCORES, **SCORES}.items()},
        SIGN_IN: ("sign-in", None),
    }


def test_the_captions_and_hints_are_printed_in_chinese_and_english(
    font: CjkFont, tmp_path: Path
) -> None:
    text = "".join(pdf_text(run(tmp_path))[0].split())
    for words in (
        "满意",
        "Satisfied",
        "一般",
        "不满意",
        "Notsatisfied",
        "需要维修",
        "Itneedsrepair",
        "完好",
        "手机登录",
        "Signinonmyphone",
        "还东西后扫一下",
        "Scanafterareturn",
        "刷卡后扫一下，屏幕显示登录码",
        "Tapyourcard,thenscan:thedisplayshowsacode",
        "★★★☆☆",
    ):
        assert words in text, words


def test_copies_of_one_set_as_png(font: CjkFont, tmp_path: Path) -> None:
    out = run(
        tmp_path, "--set", "rating-1to5", "--copies", "3", "--layout", "3x8", "--format", "png",
        out="png",
    )  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["page-001.png"]
    from PIL import Image

    codes = decode(Image.open(out / "page-001.png").convert("L"))
    assert Counter(codes) == {code: 3 for code in SCORES}
    assert {parse_rating_text(code) for code in codes} == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    ("card_set", "expected"),
    [("rating", list(WORD_SCORES)), ("condition", list(CONDITIONS)), ("sign-in", [SIGN_IN])],
)
def test_a_set_as_svg_on_a_roll(
    font: CjkFont, tmp_path: Path, card_set: str, expected: list[str]
) -> None:
    out = run(tmp_path, "--set", card_set, "--format", "svg", "--layout", "roll62", out="svg")
    files = sorted(out.iterdir())
    # One file per card, named by its code (no colon in a file name).
    assert [f.name for f in files] == [
        f"label-{n:04d}-{code.lower().replace(':', '-')}.svg"
        for n, code in enumerate(expected, start=1)
    ]
    assert [decode(svg_image(f)) for f in files] == [[code] for code in expected]


def test_the_sign_in_card_says_what_to_do_on_the_svg(font: CjkFont, tmp_path: Path) -> None:
    out = run(tmp_path, "--set", "sign-in", "--format", "svg", out="svg")
    svg = "".join(re.findall(r'aria-label="([^"]*)"', (out / "page-001.svg").read_text("utf-8")))
    assert "手机登录" in svg and "刷卡后扫一下" in svg and "Sign in on my phone" in svg


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "stars"], "argument --set: invalid choice: 'stars'"),
        (["--copies", "0"], "argument --copies: '0': a whole number from 1 to 100"),
        (["--copies", "two"], "argument --copies: 'two': a whole number from 1 to 100"),
        (["--copies", "101"], "argument --copies: '101'"),
    ],
)
def test_a_bad_set_or_count_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "cards.pdf"
    with pytest.raises(SystemExit) as exited:
        main(["labels", "hut-cards", *extra, "-o", str(out)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "usage: toolhut labels hut-cards" in err
    assert "Traceback" not in err and not out.exists()


def test_sets_and_copies_in_order() -> None:
    assert [c.code for c in hut_cards("condition", copies=2)] == [*CONDITIONS, *CONDITIONS]
    assert [c.code for c in hut_cards()] == EVERY_CARD
    with pytest.raises(LabelError, match="unknown set 'faces'"):
        hut_cards("faces")
    with pytest.raises(LabelError, match="copies 0"):
        hut_cards("rating", copies=0)


def test_a_card_says_its_meaning_in_both_languages_and_stars() -> None:
    good, four, repair, sign_in = (
        hut_card(code) for code in ("RATE:GOOD", "RATE:4", "COND:REPAIR", SIGN_IN)
    )
    assert (good.caption_zh, good.caption_en, good.stars) == ("满意", "Satisfied", "★★★★★")
    assert (four.caption_zh, four.caption_en, four.stars) == ("4分", "4 of 5", "★★★★☆")
    assert "5分最好" in four.hint_zh
    assert (repair.caption_zh, repair.hint_zh, repair.stars) == ("需要维修", "还东西后扫一下", "")
    assert (sign_in.caption_zh, sign_in.hint_en) == (
        "手机登录",
        "Tap your card, then scan: the display shows a code",
    )
    with pytest.raises(LabelError, match="not a hut card"):
        hut_card("RATE:6")
    with pytest.raises(LabelError, match="not a hut card"):
        HutCard(code="T0001", caption_zh="x", caption_en="x", hint_zh="x", hint_en="x")


def test_on_a_big_card_the_code_stays_scanner_sized_and_the_caption_grows(
    font: CjkFont, tmp_path: Path
) -> None:
    card = hut_card("COND:REPAIR")
    small = compose(card, width=99.1, height=38.1, font=font)
    big = compose(card, width=100, height=140, font=font)
    assert small.qr.plan.side_mm <= HUT_CARD_QR_MM
    assert HUT_CARD_QR_MM - 2 < big.qr.plan.side_mm <= HUT_CARD_QR_MM
    # Above the words on the big card, which then get its whole width.
    assert all(mark.baseline > big.qr.y + big.qr.plan.side_mm for mark in big.texts)

    def caption_pt(art: Art) -> float:
        return next(m.size_pt for m in art.texts if m.text == "需要维修")

    assert caption_pt(big) > caption_pt(small) >= 20

    # And it scans from the printed page.
    layout = SheetLayout(label_width=100, label_height=140, margin_top=5, margin_left=5)
    [out] = make_labels([card], output=tmp_path / "big.pdf", fmt="pdf", layout=layout, font=font)
    assert decode(pdf_pages(out)[0]) == ["COND:REPAIR"]


@pytest.mark.parametrize(
    "size", [(40, 20), (20, 40), (40, 30), (63.5, 33.9), (62, 29), (99.1, 38.1)]
)
def test_the_chinese_caption_is_always_whole_on_one_line(
    font: CjkFont, size: tuple[float, float]
) -> None:
    for card in hut_cards():
        art = compose(card, width=size[0], height=size[1], font=font)
        assert card.caption_zh in [mark.text for mark in art.texts], (card.code, art.texts)
        assert card.caption_zh not in art.truncated
