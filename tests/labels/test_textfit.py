from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from labels.fonts import CjkFont
from labels.textfit import ELLIPSIS, OPENING, fit, wrap


def test_cjk_wraps_between_characters_and_latin_between_words(font: CjkFont) -> None:
    lines = wrap("博世冲击电钻 with bit set", measure=font.width_mm, size_pt=10, width_mm=15)
    assert len(lines) > 1
    assert all(font.width_mm(line, 10) <= 15 for line in lines)
    assert "".join(lines).replace(" ", "") == "博世冲击电钻withbitset"
    assert not any(line.endswith(("wi", "bi")) for line in lines)


def test_long_text_shrinks_before_it_is_cut(font: CjkFont) -> None:
    big = fit(
        "电钻", measure=font.width_mm, width_mm=30, height_mm=10, max_pt=16, min_pt=5, max_lines=2
    )
    small = fit(
        "博世冲击电钻含钻头套装" * 2,
        measure=font.width_mm,
        width_mm=30,
        height_mm=10,
        max_pt=16,
        min_pt=5,
        max_lines=2,
    )
    assert big.size_pt == 16 and not big.truncated
    assert 5 <= small.size_pt < 16 and not small.truncated


def test_text_that_cannot_fit_is_cut_with_an_ellipsis(font: CjkFont) -> None:
    got = fit(
        "很长" * 30,
        measure=font.width_mm,
        width_mm=20,
        height_mm=5,
        max_pt=12,
        min_pt=5,
        max_lines=2,
    )
    assert got.truncated and got.lines[-1].endswith(ELLIPSIS)
    assert all(font.width_mm(line, got.size_pt) <= 20 for line in got.lines)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(
        alphabet="电钻梯子急救箱 abcdefghijkLMNOP-0123456789（）", min_size=1, max_size=60
    ),
    width=st.floats(min_value=8, max_value=80),
    height=st.floats(min_value=2.2, max_value=20),
    lines=st.integers(min_value=1, max_value=3),
)
def test_fitted_text_never_overflows_its_box(
    font: CjkFont, text: str, width: float, height: float, lines: int
) -> None:
    got = fit(
        text.strip() or "x",
        measure=font.width_mm,
        width_mm=width,
        height_mm=height,
        max_pt=20,
        min_pt=5,
        max_lines=lines,
    )
    assert len(got.lines) <= lines
    assert all(font.width_mm(line, got.size_pt) <= width + 1e-6 for line in got.lines)
    assert got.truncated or len(got.lines) * got.line_mm <= height + 1e-6


def test_whole_text_is_never_marked_cut(font: CjkFont) -> None:
    # A box lower than one line at the smallest size: the text is whole, so no "…".
    got = fit(
        "Impact drill",
        measure=font.width_mm,
        width_mm=20,
        height_mm=1.5,
        max_pt=10,
        min_pt=5,
        max_lines=2,
    )
    assert got.lines == ("Impact drill",) and not got.truncated


def test_a_cut_line_never_ends_in_opening_punctuation_before_the_ellipsis(font: CjkFont) -> None:
    got = fit("冲击电钻（含钻头套装）" * 3, measure=font.width_mm, width_mm=9.1, height_mm=2.1,
              max_pt=5, min_pt=5, max_lines=1)  # fmt: skip
    assert got.truncated and got.lines[-1].endswith(ELLIPSIS)
    assert got.lines[-1][-2] not in OPENING


NEVER_FIRST = "、，。）」"
NEVER_LAST = "（「"


def test_chinese_line_breaking_keeps_punctuation_with_its_text(font: CjkFont) -> None:
    # At 10 pt a Chinese character is 3.53 mm: five fit a 18 mm line, so the comma after
    # "钻头套装" would start line 2, and "（" would end line 1 of the second text.
    lines = wrap("冲击电钻头，套装", measure=font.width_mm, size_pt=10, width_mm=18)
    assert lines == ["冲击电钻", "头，套装"]
    lines = wrap("冲击电钻（含钻头）", measure=font.width_mm, size_pt=10, width_mm=18)
    assert lines == ["冲击电钻", "（含钻头）"]


_PHRASE = st.tuples(
    st.sampled_from(["", "（", "「"]),
    st.text(alphabet="电钻梯子急救箱", min_size=1, max_size=4),
    st.sampled_from(["", "、", "，", "。", "）", "」", "）。"]),
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=st.lists(_PHRASE, min_size=1, max_size=8).map("".join),
       width=st.floats(min_value=15, max_value=40))  # fmt: skip
def test_no_line_starts_with_closing_or_ends_with_opening_punctuation(
    font: CjkFont, text: str, width: float
) -> None:
    lines = wrap(text, measure=font.width_mm, size_pt=10, width_mm=width)
    assert "".join(lines) == text
    assert all(font.width_mm(line, 10) <= width + 1e-6 for line in lines)
    for before, after in zip(lines, lines[1:], strict=False):
        assert after[0] not in NEVER_FIRST, lines
        assert before[-1] not in NEVER_LAST, lines
