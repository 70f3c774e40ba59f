"""Public pages for people: what a resident's phone shows after scanning a label."""

from __future__ import annotations

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
    ItemStatus.MAINTENANCE: "维修中",
    ItemStatus.RETIRED: "已停用",
    ItemStatus.LOST: "遗失",
}


@router.get("/i/{tag}")
def item_page(tag: str, request: Request, session: SessionDep) -> HTMLResponse:
    parsed = parse_scan_text(tag)
    shelf = queries.find_item(session, parsed) if parsed is not None else None
    if shelf is None:
        return templates.TemplateResponse(
            request, "item_missing.html", {"tag": tag}, status_code=404
        )
    hut = shelf.item.hut
    due = None
    if shelf.loan is not None:
        due = shelf.loan.due_at.astimezone(ZoneInfo(hut.timezone)).strftime("%m月%d日 %H:%M")
    return templates.TemplateResponse(
        request,
        "item.html",
        {"item": shelf.item, "hut": hut, "status": STATUS_ZH[shelf.item.status], "due": due},
    )
