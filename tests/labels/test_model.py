from __future__ import annotations

import pytest

from labels import CardLabel, ItemLabel, LabelError, item_url
from labels.model import MAX_NAME_ZH


def item(**kw: str) -> ItemLabel:
    values = {
        "base_url": "https://tools.example.org",
        "tag": "DRL-001",
        "name_zh": "电钻",
        "hut_name": "一号工具屋",
    } | kw
    return ItemLabel.for_item(**values)


def test_item_url_is_base_slash_i_slash_tag() -> None:
    assert (
        item_url("https://tools.example.org/", "DRL-001") == "https://tools.example.org/i/DRL-001"
    )
    assert item_url("http://10.0.0.5:8000/hut", "a.b_c") == "http://10.0.0.5:8000/hut/i/a.b_c"
    assert item().payload == "https://tools.example.org/i/DRL-001"


@pytest.mark.parametrize(
    "base", ["tools.example.org", "//tools.example.org", "ftp://x.org", "https://"]
)
def test_base_url_without_scheme_or_host_is_refused(base: str) -> None:
    with pytest.raises(LabelError, match="base URL"):
        item(base_url=base)


def test_error_for_missing_scheme_suggests_the_fix() -> None:
    with pytest.raises(LabelError, match="https://tools.example.org"):
        item(base_url="tools.example.org")


@pytest.mark.parametrize("tag", ["", "-x", "a b", "电钻", "x" * 33, "a/b"])
def test_bad_tags_are_refused(tag: str) -> None:
    with pytest.raises(LabelError, match="invalid tag"):
        item(tag=tag)


@pytest.mark.parametrize("field", ["name_zh", "hut_name"])
def test_empty_required_text_is_refused(field: str) -> None:
    with pytest.raises(LabelError, match=f"{field} is empty"):
        item(**{field: "   "})


def test_over_long_name_is_refused_with_the_limit() -> None:
    with pytest.raises(LabelError, match=f"at most {MAX_NAME_ZH}"):
        item(name_zh="长" * (MAX_NAME_ZH + 1))


def test_whitespace_is_collapsed_and_control_characters_refused() -> None:
    assert item(name_zh=" 冲击\n 电钻 ").name_zh == "冲击 电钻"
    with pytest.raises(LabelError, match="unprintable"):
        item(name_zh="电\u200b钻")


def test_card_uid_is_normalised_and_checked() -> None:
    card = CardLabel(name="张三", building_unit="3栋2单元", card_uid=" 04a1b2c3 ")
    assert card.payload == "04A1B2C3"
    with pytest.raises(LabelError, match="card_uid"):
        CardLabel(name="张三", building_unit="3栋2单元", card_uid="12-34")
    with pytest.raises(LabelError, match="building_unit is empty"):
        CardLabel(name="张三", building_unit="", card_uid="04A1B2C3")


def test_labels_are_frozen() -> None:
    label = item()
    with pytest.raises(AttributeError):
        label.tag = "X"  # type: ignore[misc]
