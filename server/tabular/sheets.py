"""Which kinds import and export: the URL's and the command's word -> its Sheet.

Each kind's Sheet lives beside that kind's records (server/records/<kind>_sheet.py); add
one line per sheet below. The imports stay inside the function, so reading this module
costs nothing and the records modules may import the engine without a cycle."""

from __future__ import annotations

from server.tabular.spec import Sheet


def registry() -> dict[str, Sheet]:
    """Every sheet, by kind."""
    sheets: list[Sheet] = [
        # from server.records.item_sheet import ItemSheet -> ItemSheet(),
        # from server.records.supply_sheet import SupplySheet -> SupplySheet(),
        # from server.records.member_sheet import MemberSheet -> MemberSheet(),
    ]
    return {sheet.kind: sheet for sheet in sheets}
