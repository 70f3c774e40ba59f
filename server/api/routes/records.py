"""The records' routers (huts, categories, items, supplies, stocktakes), in the order the
app includes them: after the ledger's own routes, so a fixed path such as
/supplies/public is matched before /supplies/{tag}."""

from __future__ import annotations

from server.api.routes import categories, hut_records, item_records, stocktakes, supply_records

RECORD_ROUTERS = (
    hut_records.router,
    categories.router,
    item_records.router,
    supply_records.router,
    stocktakes.router,
)
