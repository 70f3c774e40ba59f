"""The console's sections, in the order of its menu, and the role each needs: a page shows
only what its reader's role may open."""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.roles import Role
from toolhut.i18n import N_


@dataclass(frozen=True, slots=True)
class Section:
    href: str
    label: str  # a message id: looked up in the reader's language
    role: Role


ROLE_NAMES = {Role.VIEWER: N_("viewer"), Role.STAFF: N_("staff"), Role.ADMIN: N_("admin")}

SECTIONS = (
    Section("/console", N_("Dashboard"), Role.VIEWER),
    Section("/console/items", N_("Inventory"), Role.VIEWER),
    Section("/console/categories", N_("Item categories"), Role.VIEWER),
    Section("/console/supplies", N_("Supplies"), Role.VIEWER),
    Section("/console/members", N_("Members"), Role.VIEWER),
    Section("/console/loans", N_("Loans"), Role.VIEWER),
    Section("/console/alarms", N_("Alarms"), Role.VIEWER),
    Section("/console/ratings", N_("Ratings"), Role.VIEWER),
    Section("/console/wishes", N_("Micro-wishes"), Role.VIEWER),
    Section("/console/partners", N_("Partners"), Role.VIEWER),
    Section("/console/reports", N_("Monthly reports"), Role.STAFF),
    Section("/console/transfer", N_("Import and export"), Role.STAFF),
    Section("/console/users", N_("Users"), Role.ADMIN),
    Section("/console/audit", N_("Audit log"), Role.ADMIN),
)


def sections_for(role: Role | None) -> list[Section]:
    if role is None:
        return []
    return [section for section in SECTIONS if role.allows(section.role)]


def current(path: str) -> str | None:
    """The section a path is in (the longest matching href), for the menu's highlight."""
    matches = [s.href for s in SECTIONS if path == s.href or path.startswith(s.href + "/")]
    return max(matches, key=len, default=None)
