"""Supplies in and out of spreadsheets: the shelf records (their stock comes with
deliveries, not with the sheet), checked and written as the API does."""

from __future__ import annotations

from server.records import supplies
from server.records.lookups import item_tags
from server.records.supplies import SupplyFields
from server.records.tag_sheet import TagSheet
from server.storage.models import Consumable
from server.tabular.spec import Column

COLUMNS = (
    Column("tag", "标签", "Tag", required=True),
    Column("name_zh", "中文名称", "Chinese name", required=True),
    Column("name_en", "英文名称", "English name", required=True),
    Column("category", "类别", "Category", required=True),
    Column("hut", "工具屋", "Hut", required=True),
    Column("min_quantity", "最低库存", "Minimum level"),
    Column("notes", "备注", "Notes"),
)

SUPPLY_SHEET = TagSheet(
    kind="supplies",
    entity="supply",
    columns=COLUMNS,
    fields=SupplyFields,
    model=Consumable,
    columns_of=supplies.columns,
    taken=item_tags,
    audited=supplies.FIELDS,
)
