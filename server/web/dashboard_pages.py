"""The console's first page (``/console``), for every role: each hut as a card with its
live state, the open alarms on top, the counts staff act on, and the loan charts.

The server renders the whole page (the state at load time: it works without JavaScript);
static/console/dashboard.js then keeps the cards and the alarms live from the huts'
stream (GET /api/v1/huts/stream) and draws the charts (ECharts, served here) from
``/console/dashboard/charts.json``. Each chart's figures are a table on the page too."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server.api.deps import DbDep, NowDep
from server.web import dashboard_view
from server.web.guard import PageViewer
from server.web.language import page_language
from server.web.rendering import render
from toolhut.i18n import N_, gettext

router = APIRouter(prefix="/console", include_in_schema=False)

CHARTS_PATH = "/console/dashboard/charts.json"
CHART_TEXTS = {
    "weeks_title": N_("Loans per week, last 12 weeks"),
    "weeks_axis": N_("Week from"),
    "categories_title": N_("Loans by category, last 12 weeks"),
    "categories_axis": N_("Category"),
    "loans": N_("Number of loans"),
}


def chart_texts(lang: str) -> dict[str, str]:
    return {key: gettext(text, lang) for key, text in CHART_TEXTS.items()}


def figure_cache(request: Request) -> dashboard_view.FigureCache:
    """The app's cache of the charts' figures (made on first use)."""
    state = request.app.state
    cache = getattr(state, "dashboard_figures", None)
    if cache is None:
        cache = state.dashboard_figures = dashboard_view.FigureCache()
    return cache


@router.get("", response_class=HTMLResponse)
def dashboard_page(request: Request, principal: PageViewer, db: DbDep, now: NowDep) -> HTMLResponse:
    lang = page_language(request)
    context = {
        "board": dashboard_view.dashboard(db, now=now),
        "charts": dashboard_view.charts(db, now=now, lang=lang, cache=figure_cache(request)),
        "chart_texts": chart_texts(lang),
        "charts_path": CHARTS_PATH,
        "labels": dashboard_view.labels(lang),
        "local_time": dashboard_view.local_time,
    }
    return render(request, "console/dashboard.html", context, principal=principal)


@router.get("/dashboard/charts.json")
def dashboard_charts(
    request: Request, principal: PageViewer, db: DbDep, now: NowDep
) -> dict[str, Any]:
    """The charts' figures and their words in the reader's language (ECharts draws them)."""
    lang = page_language(request)
    found = dashboard_view.charts(db, now=now, lang=lang, cache=figure_cache(request))
    texts = chart_texts(lang)
    return {
        "weeks": {
            "title": texts["weeks_title"],
            "axis": texts["weeks_axis"],
            "series": texts["loans"],
            "labels": found.weeks.labels,
            "values": found.weeks.values,
        },
        "categories": {
            "title": texts["categories_title"],
            "axis": texts["categories_axis"],
            "series": texts["loans"],
            "labels": found.categories.labels,
            "values": found.categories.values,
        },
    }
