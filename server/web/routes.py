"""Every router of the pages, in the order the app includes them."""

from __future__ import annotations

from server.web import alarm_pages, enrolment_pages, members_pages, session_pages

ROUTERS = (
    session_pages.router,
    members_pages.router,
    enrolment_pages.router,
    alarm_pages.router,
)
