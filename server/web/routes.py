"""Every router of the pages, in the order the app includes them (one line each)."""

from __future__ import annotations

from server.web import dashboard_pages, items_pages, public_pages, session_pages

ROUTERS = (
    session_pages.router,
    dashboard_pages.router,
    items_pages.router,
    public_pages.router,
)
