"""Every router of the pages, in the order the app includes them."""

from __future__ import annotations

from server.web import items_pages, loans_pages, session_pages

ROUTERS = (session_pages.router, items_pages.router, loans_pages.router)
