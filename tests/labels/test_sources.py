from __future__ import annotations

from pathlib import Path

import pytest

from labels import LabelError
from labels.sources import cards_from_csv, items_from_csv, parse_huts, parse_items, select_items
from toolhut.card_ref import card_ref

BASE = "https://tools.example.org"


def write(tmp_path: Path, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return path


def test_item_rows_become_labels(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "tag,name_zh,name_en,hut_name\nD-1,电钻,Drill,一号屋\n\nL-2,梯子,,一号屋\n",
        bom=True,
    )
    labels = items_from_csv(path, base_url=BASE)
    assert [(lab.tag, lab.name_zh, lab.name_en, lab.url) for lab in labels] == [
        ("D-1", "电钻", "Drill", f"{BASE}/i/D-1"),
        ("L-2", "梯子", "", f"{BASE}/i/L-2"),
    ]


def test_hut_name_option_fills_a_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "tag,name_zh\nD-1,电钻\n")
    assert items_from_csv(path, base_url=BASE, hut_name="二号屋")[0].hut_name == "二号屋"
    with pytest.raises(LabelError, match="missing column.*hut_name"):
        items_from_csv(path, base_url=BASE)


def test_bad_rows_are_all_reported_with_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "tag,name_zh,hut_name\nD-1,,屋\nbad tag,梯子,屋\nOK-1,锤子,屋\n")
    with pytest.raises(LabelError) as caught:
        items_from_csv(path, base_url=BASE)
    assert "line 2: name_zh is empty" in str(caught.value)
    assert "line 3: invalid tag 'bad tag'" in str(caught.value)


def test_duplicate_tags_and_bad_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LabelError, match="duplicate tags: D-1"):
        items_from_csv(write(tmp_path, "tag,name_zh,hut_name\nD-1,a,b\nD-1,c,d\n"), base_url=BASE)
    with pytest.raises(LabelError, match="no rows"):
        items_from_csv(write(tmp_path, "tag,name_zh,hut_name\n"), base_url=BASE)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("tag,name_zh,hut_name\nD-1,电钻,屋\n".encode("gbk"))
    with pytest.raises(LabelError, match="save the CSV as UTF-8"):
        items_from_csv(gbk, base_url=BASE)
    with pytest.raises(LabelError, match="cannot read"):
        items_from_csv(tmp_path / "missing.csv", base_url=BASE)
    with pytest.raises(LabelError, match="base URL"):
        items_from_csv(gbk, base_url="tools.example.org")


def test_card_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "name,building_unit,card_uid\n张三,3栋2单元,04a1b2c3\n")
    key = b"k" * 16
    [card] = cards_from_csv(path, key=key)
    assert (card.name, card.building_unit, card.payload) == ("", "", card_ref("04A1B2C3", key=key))
    [named] = cards_from_csv(path, key=key, with_name=True)
    assert (named.name, named.building_unit) == ("张三", "")
    [both] = cards_from_csv(path, key=key, with_name=True, with_address=True)
    assert (both.name, both.building_unit) == ("张三", "3栋2单元")
    # The name and flat columns are needed only when printed.
    bare = write(tmp_path, "card_uid\n04a1b2c3\n")
    assert cards_from_csv(bare, key=key)[0].payload == card.payload
    with pytest.raises(LabelError, match="missing column.*name"):
        cards_from_csv(bare, key=key, with_name=True)


API_ITEMS = {
    "data": [
        {
            "tag": "D-1",
            "name_zh": "电钻",
            "name_en": "Drill",
            "category": "power",
            "hut": "h1",
            "status": "in",
        },
        {"tag": "L-2", "name_zh": "梯子", "name_en": None, "category": "ladder", "hut": "h1"},
        {"tag": "K-3", "name_zh": "急救箱", "category": "first-aid", "hut": "h1"},
    ]
}


def test_server_answers_are_parsed_and_filtered() -> None:
    rows = parse_items(API_ITEMS)
    assert rows[1] == {
        "tag": "L-2",
        "name_zh": "梯子",
        "name_en": "",
        "category": "ladder",
        "hut": "h1",
    }
    assert [r["tag"] for r in select_items(rows, category="power")] == ["D-1"]
    assert [r["tag"] for r in select_items(rows, tags=["K-3", "D-1"])] == ["K-3", "D-1"]
    assert parse_huts({"data": [{"id": "h1", "name": "一号屋"}, {"id": "h2"}]}) == {
        "h1": "一号屋",
        "h2": "h2",
    }


def test_unknown_tags_are_listed() -> None:
    with pytest.raises(LabelError, match="unknown tag.*X-9, Y-8"):
        select_items(parse_items(API_ITEMS), tags=["D-1", "X-9", "Y-8"])
    with pytest.raises(LabelError, match="no items match category 'boats'"):
        select_items(parse_items(API_ITEMS), category="boats")


@pytest.mark.parametrize("payload", [[], {"data": "x"}, {"data": [{"name_zh": "no tag"}]}])
def test_malformed_server_answers_are_refused(payload: object) -> None:
    with pytest.raises(LabelError):
        parse_items(payload)
