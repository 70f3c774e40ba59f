"""Supplies in and out of spreadsheets: the shelf records (their stock comes with
deliveries, not with the sheet), checked and written as the API does."""

from __future__ import annotations

from server.records import supplies
from server.records.lookups import item_tags
from server.records.supplies import SupplyFields
from server.records.tag_sheet import TAGGED_COLUMNS, TagSheet
from server.storage.models import Consumable
from server.tabular.spec import VERSION, Column

COLUMNS = (
    *TAGGED_COLUMNS,
    Column("min_quantity", "最低库存", "Minimum level"),
    Column("notes", "备注", "Notes"),
    VERSION,
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
