"""Every router of the pages, in the order the app includes them (one line each)."""

from __future__ import annotations

from server.web import (
    alarm_pages,
    audit_pages,
    community_pages,
    dashboard_pages,
    enrolment_pages,
    items_pages,
    loans_pages,
    members_pages,
    public_pages,
    rating_pages,
    report_pages,
    resident_loans,
    resident_pages,
    resident_ratings,
    resident_waiting,
    resident_wish_pages,
    session_pages,
    supplies_pages,
    transfer_pages,
    users_pages,
)

ROUTERS = (
    session_pages.router,
    dashboard_pages.router,
    items_pages.router,
    loans_pages.router,
    supplies_pages.router,
    members_pages.router,
    enrolment_pages.router,
    alarm_pages.router,
    community_pages.router,
    rating_pages.router,
    report_pages.router,
    transfer_pages.router,
    users_pages.router,
    audit_pages.router,
    resident_pages.router,
    resident_loans.router,
    resident_ratings.router,
    resident_waiting.router,
    resident_wish_pages.router,
    public_pages.router,
)
