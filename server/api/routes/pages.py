"""Public pages for people: what a resident's phone shows after scanning a label."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from server.api.deps import SessionDep
from server.domain import ItemStatus, parse_scan_text
from server.storage import queries

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


def _local_due(due_at: datetime | None, tz: str) -> str | None:
    return None if due_at is None else due_at.astimezone(ZoneInfo(tz)).strftime("%m月%d日 %H:%M")


@router.get("/")
def inventory_page(request: Request, session: SessionDep) -> HTMLResponse:
    """Every hut's shelf at a glance, public view: what is there and when the rest is due."""
    huts = [
        {
            "hut": hut,
            "rows": [
                {
                    "item": shelf.item,
                    "status": STATUS_ZH[shelf.item.status],
                    "due": _local_due(shelf.loan.due_at if shelf.loan else None, hut.timezone),
                }
                for shelf in queries.list_items(session, hut_id=hut.id)
            ],
        }
        for hut in queries.list_huts(session)
    ]
    return templates.TemplateResponse(request, "inventory.html", {"huts": huts})


@router.get("/i/{tag}")
def item_page(tag: str, request: Request, session: SessionDep) -> HTMLResponse:
    parsed = parse_scan_text(tag)
    shelf = queries.find_item(session, parsed) if parsed is not None else None
    if shelf is None:
        return templates.TemplateResponse(
            request, "item_missing.html", {"tag": tag}, status_code=404
        )
    hut = shelf.item.hut
    due = _local_due(shelf.loan.due_at if shelf.loan else None, hut.timezone)
    return templates.TemplateResponse(
        request,
        "item.html",
        {"item": shelf.item, "hut": hut, "status": STATUS_ZH[shelf.item.status], "due": due},
    )
