"""Which kinds import and export: the URL's and the command's word -> its Sheet.

Each kind's Sheet lives beside that kind's records (server/records/<kind>_sheet.py); add
one line per sheet below. The imports stay inside the function, so reading this module
costs nothing and the records modules may import the engine without a cycle."""

from __future__ import annotations

from server.tabular.spec import Sheet


def registry() -> dict[str, Sheet]:
    """Every sheet, by kind."""
    from server.records import item_sheet, member_sheet, supply_sheet

    sheets: list[Sheet] = [item_sheet.ITEM_SHEET, supply_sheet.SUPPLY_SHEET, member_sheet.SHEET]
    return {sheet.kind: sheet for sheet in sheets}
