"""Items in and out of spreadsheets: the columns, checked and written as the API does."""

from __future__ import annotations

from server.records import items
from server.records.items import ItemFields
from server.records.lookups import supply_tags
from server.records.tag_sheet import TagSheet
from server.storage.models import Item
from server.tabular.spec import Column

COLUMNS = (
    Column("tag", "标签", "Tag", required=True),
    Column("name_zh", "中文名称", "Chinese name", required=True),
    Column("name_en", "英文名称", "English name", required=True),
    Column("category", "类别", "Category", required=True),
    Column("hut", "工具屋", "Hut", required=True),
    Column("owner", "所属机构", "Owner"),
    Column("condition", "状况", "Condition"),
    Column("loan_days", "借期（天）", "Loan days"),
    Column("max_renewals", "最多续借", "Max renewals"),
    Column("notes", "备注", "Notes"),
)

ITEM_SHEET = TagSheet(
    kind="items",
    entity="item",
    columns=COLUMNS,
    fields=ItemFields,
    model=Item,
    columns_of=items.columns,
    taken=supply_tags,
    audited=items.FIELDS,
)
