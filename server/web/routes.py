"""Every router of the pages, in the order the app includes them."""

from __future__ import annotations

from server.web import audit_pages, public_pages, session_pages, transfer_pages, users_pages

ROUTERS = (
    session_pages.router,
    public_pages.router,
    transfer_pages.router,
    users_pages.router,
    audit_pages.router,
)
