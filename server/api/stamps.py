"""Who writes and when, for a route's audit entries: the signed-in staff member (as
server.api.auth names them) and the request's time."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.api.auth import AdminDep, StaffDep, actor_of
from server.api.deps import NowDep
from server.storage.audit import Stamp


def staff_stamp(principal: StaffDep, request: Request, now: NowDep) -> Stamp:
    """For a write by staff and above (403 for a viewer)."""
    return Stamp(actor_of(principal, request), now)


def admin_stamp(principal: AdminDep, request: Request, now: NowDep) -> Stamp:
    """For a write by admins only."""
    return Stamp(actor_of(principal, request), now)


StaffStamp = Annotated[Stamp, Depends(staff_stamp)]
AdminStamp = Annotated[Stamp, Depends(admin_stamp)]
