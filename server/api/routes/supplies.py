"""Consumable supplies per hut: the public list (for shelf labels), and for staff the stock
with its alerts (restock, expiring)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query

from server.api.auth import ViewerOnly
from server.api.deps import DbDep, NowDep
from server.api.schemas import SuppliesPublic, SupplyPublic
from server.api.staff_schemas import SuppliesStaff, SupplyStaff
from server.storage import consumables
from toolhut.contract import HUT_ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["supplies"])


class SupplyAlert(StrEnum):
    RESTOCK = "restock"
    EXPIRING = "expiring"


@router.get("/supplies/public")
def list_public_supplies(
    db: DbDep, hut: Annotated[str | None, Query(pattern=HUT_ID_PATTERN)] = None
) -> SuppliesPublic:
    """What each hut keeps and whether any is left; no counts, no batches."""
    data = [SupplyPublic.of(supply) for supply in consumables.listing(db, hut_id=hut)]
    return SuppliesPublic(data=data, count=len(data))


@router.get("/supplies", dependencies=[ViewerOnly])
def list_supplies(
    db: DbDep,
    now: NowDep,
    alert: SupplyAlert | None = None,
    hut: Annotated[str | None, Query(pattern=HUT_ID_PATTERN)] = None,
) -> SuppliesStaff:
    """Stock per hut; ``alert=restock``: at or below minimum; ``alert=expiring``: batches
    expiring within 30 days."""
    if alert is SupplyAlert.EXPIRING:
        batches = consumables.expiring_batches(db, now, hut_id=hut)
        data = [SupplyStaff.of_batch(batch) for batch in batches]
    else:
        stock = (
            consumables.low_stock(db, hut_id=hut)
            if alert is SupplyAlert.RESTOCK
            else consumables.stock(db, hut_id=hut)
        )
        data = [SupplyStaff.of_stock(row) for row in stock]
    return SuppliesStaff(data=data, count=len(data))
