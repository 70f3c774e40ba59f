"""Public pages for people: what a resident's phone shows after scanning a label."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from server.api.deps import DbDep
from server.domain import ItemCondition, ItemStatus, parse_scan_text
from server.storage import consumables, queries, reservations
from server.storage.models import Item

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")

STATUS_ZH = {
    ItemStatus.AVAILABLE: "可借用",
    ItemStatus.ON_LOAN: "已借出",
    ItemStatus.RESERVED: "已预留",
    ItemStatus.MAINTENANCE: "维修中",
    ItemStatus.RETIRED: "已停用",
    ItemStatus.LOST: "遗失",
}


CONDITION_ZH = {
    ItemCondition.OK: "完好",
    ItemCondition.NEEDS_REPAIR: "待维修",
    ItemCondition.MISSING_PART: "缺少配件",
}

# A note under the state, for the states that need one; never a member's name.
NOTE_ZH = {
    ItemStatus.RESERVED: "已为排队预约的邻居保留",
    ItemStatus.MAINTENANCE: "工作人员检查或维修后恢复借用",
    ItemStatus.LOST: "已登记遗失",
    ItemStatus.RETIRED: "已不再借出",
}


def _held_until(db: Session, item: Item, tz: str) -> str | None:
    if item.status is not ItemStatus.RESERVED:
        return None
    hold = reservations.current_hold(db, item.id)
    return None if hold is None else _local_due(hold.hold_until, tz)


def _local_due(due_at: datetime | None, tz: str) -> str | None:
    return None if due_at is None else due_at.astimezone(ZoneInfo(tz)).strftime("%m月%d日 %H:%M")


@router.get("/")
def inventory_page(request: Request, db: DbDep) -> HTMLResponse:
    """Every hut's shelf at a glance, public view: what is there and when the rest is due."""
    huts = [
        {
            "hut": hut,
            "rows": [
                {
                    "item": shelf.item,
                    "status": STATUS_ZH[shelf.item.status],
                    "condition": CONDITION_ZH[shelf.item.condition],
                    "due": _local_due(shelf.loan.due_at if shelf.loan else None, hut.timezone),
                    "held_until": _held_until(db, shelf.item, hut.timezone),
                }
                for shelf in queries.list_items(db, hut_id=hut.id)
            ],
        }
        for hut in queries.list_huts(db)
    ]
    return templates.TemplateResponse(request, "inventory.html", {"huts": huts})


@router.get("/i/{tag}")
def item_page(tag: str, request: Request, db: DbDep) -> HTMLResponse:
    parsed = parse_scan_text(tag)
    shelf = queries.find_item(db, parsed) if parsed is not None else None
    if shelf is None:
        supply = consumables.find(db, parsed) if parsed is not None else None
        if supply is not None:
            # Supplies share the label URL: in stock or not, never counts or who took them.
            return templates.TemplateResponse(
                request,
                "supply.html",
                {
                    "supply": supply,
                    "hut": queries.get_hut(db, supply.hut_id),
                    "in_stock": supply.quantity > 0,
                },
            )
        return templates.TemplateResponse(
            request, "item_missing.html", {"tag": tag}, status_code=404
        )
    hut = shelf.item.hut
    due = _local_due(shelf.loan.due_at if shelf.loan else None, hut.timezone)
    item = shelf.item
    return templates.TemplateResponse(
        request,
        "item.html",
        {
            "item": item,
            "hut": hut,
            "status": STATUS_ZH[item.status],
            "note": NOTE_ZH.get(item.status),
            "condition": CONDITION_ZH[item.condition],
            "due": due,
            "held_until": _held_until(db, item, hut.timezone),
        },
    )
