from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from labels.fonts import CjkFont
from labels.textfit import ELLIPSIS, fit, wrap


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
