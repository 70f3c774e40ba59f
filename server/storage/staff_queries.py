"""The admins' lists, as queries to sort and page: staff accounts and the audit log. The
API (server/api/routes/users.py, audit.py) and the console's pages narrow them the same
way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select

from server.domain.roles import Role
from server.storage.staff_models import AuditEntry, StaffUser


def accounts(*, role: Role | None = None, disabled: bool | None = None) -> Select[StaffUser]:
    """Staff accounts of ``role``; ``disabled``: True only disabled ones, False only enabled."""
    query = select(StaffUser)
    if role is not None:
        query = query.where(StaffUser.role == role)
    if disabled is not None:
        query = query.where(
            StaffUser.disabled_at.is_not(None) if disabled else StaffUser.disabled_at.is_(None)
        )
    return query


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Each field narrows the log when set; ``since`` is inclusive, ``until`` exclusive."""

    entity: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_entries(wanted: AuditFilter) -> Select[AuditEntry]:
    """The entries ``wanted`` names, unordered (the caller sorts: ``newest_first``)."""
    query = select(AuditEntry)
    for column, value in (
        (AuditEntry.entity, wanted.entity),
        (AuditEntry.entity_id, wanted.entity_id),
        (AuditEntry.actor, wanted.actor),
        (AuditEntry.action, wanted.action),
    ):
        if value is not None:
            query = query.where(column == value)
    if wanted.since is not None:
        query = query.where(AuditEntry.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEntry.at < wanted.until)
    return query


def newest_first(query: Select[AuditEntry]) -> Select[AuditEntry]:
    """Newest first, and entries of one instant newest first too."""
    return query.order_by(None).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
