"""Which kinds import and export: the URL's and the command's word -> its Sheet.

Each kind's Sheet lives beside that kind's records (server/records/<kind>_sheet.py); add
one line per sheet below. The imports stay inside the function, so reading this module
costs nothing and the records modules may import the engine without a cycle."""

from __future__ import annotations

from server.tabular.spec import Sheet


def registry() -> dict[str, Sheet]:
    """Every sheet, by kind."""
    from server.records import member_sheet

    sheets: list[Sheet] = [member_sheet.SHEET]
    return {sheet.kind: sheet for sheet in sheets}
