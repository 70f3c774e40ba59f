"""Items in and out of spreadsheets: the columns, checked and written as the API does."""

from __future__ import annotations

from server.records import items
from server.records.items import ItemFields
from server.records.lookups import supply_tags
from server.records.tag_sheet import TAGGED_COLUMNS, TagSheet
from server.storage.models import Item
from server.tabular.spec import VERSION, Column

COLUMNS = (
    *TAGGED_COLUMNS,
    Column("owner", "所属机构", "Owner"),
    Column("condition", "状况", "Condition"),
    Column("loan_days", "借期（天）", "Loan days"),
    Column("max_renewals", "最多续借", "Max renewals"),
    Column("notes", "备注", "Notes"),
    VERSION,
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
