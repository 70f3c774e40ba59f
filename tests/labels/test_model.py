from __future__ import annotations

import pytest

from labels import CardLabel, ItemLabel, LabelError, item_url
from labels.model import MAX_NAME_ZH
from server.domain import parse_scan_text
from toolhut.card_ref import card_ref


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


KEY = b"a-card-key-of-some-length"


def test_card_qr_is_a_keyed_reference_never_the_uid() -> None:
    card = CardLabel.for_card(card_uid=" 04a1b2c3 ", key=KEY)
    assert card.payload == card_ref("04A1B2C3", key=KEY)
    assert card.payload.startswith("CARD:") and "04A1B2C3" not in card.payload
    assert CardLabel.for_card(card_uid="04A1B2C4", key=KEY).payload != card.payload
    assert CardLabel.for_card(card_uid="04A1B2C3", key=KEY[::-1]).payload != card.payload
    # Nothing that identifies the card or its holder is printed unless asked for.
    assert (card.name, card.building_unit) == ("", "")
    assert not any("04A1B2C3" in text for text in card.texts())
    # A scan of it at the hut cannot be taken for an item tag.
    assert parse_scan_text(card.payload) is None


def test_bad_card_uid_or_key_is_refused_without_echoing_the_uid() -> None:
    with pytest.raises(LabelError, match="card_uid") as caught:
        CardLabel.for_card(card_uid="12-34-secret", key=KEY)
    assert "secret" not in str(caught.value)
    with pytest.raises(LabelError, match="at least 16 bytes"):
        CardLabel.for_card(card_uid="04A1B2C3", key=b"short")


def test_labels_are_frozen() -> None:
    label = item()
    with pytest.raises(AttributeError):
        label.tag = "X"  # type: ignore[misc]
