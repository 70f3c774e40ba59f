"""API payloads, named by role. Times are UTC ISO 8601."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from server.domain import ItemStatus
from server.storage.models import Consumable, Hut, Loan, Member
from server.storage.queries import ItemOnShelf


class Alive(BaseModel):
    status: str  # always "alive": the process answers


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool]  # database, broker, migrations
    failed: list[str]  # the checks that failed, by name
    detail: str | None = None  # for a person: which, in words


class HutPublic(BaseModel):
    id: str
    name: str
    timezone: str

    @classmethod
    def of(cls, hut: Hut) -> HutPublic:
        return cls(id=hut.id, name=hut.name, timezone=hut.timezone)


class HutsPublic(BaseModel):
    data: list[HutPublic]
    count: int


class BorrowerStaff(BaseModel):
    """Only in staff responses."""

    member_id: int
    name: str
    building_unit: str

    @classmethod
    def of(cls, member: Member) -> BorrowerStaff:
        return cls(member_id=member.id, name=member.name, building_unit=member.building_unit)


class ItemPublic(BaseModel):
    tag: str
    name_zh: str
    name_en: str
    category: str
    hut: str
    status: ItemStatus
    due_at: datetime | None
    borrower: BorrowerStaff | None = None

    @classmethod
    def of(cls, shelf: ItemOnShelf, *, staff: bool) -> ItemPublic:
        item, loan = shelf.item, shelf.loan
        return cls(
            tag=item.tag,
            name_zh=item.name_zh,
            name_en=item.name_en,
            category=item.category,
            hut=item.hut_id,
            status=item.status,
            due_at=None if loan is None else loan.due_at,
            borrower=BorrowerStaff.of(loan.member) if staff and loan is not None else None,
        )


class SupplyPublic(BaseModel):
    """A supply shelf as anyone may see it: what it is, where, and whether any is left."""

    tag: str
    name_zh: str
    name_en: str
    category: str
    hut: str
    in_stock: bool

    @classmethod
    def of(cls, supply: Consumable) -> SupplyPublic:
        return cls(
            tag=supply.tag,
            name_zh=supply.name_zh,
            name_en=supply.name_en,
            category=supply.category,
            hut=supply.hut_id,
            in_stock=supply.quantity > 0,
        )


class SuppliesPublic(BaseModel):
    data: list[SupplyPublic]
    count: int


class LoanStatus(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"


class LoanPublic(BaseModel):
    id: int
    tag: str
    name_zh: str
    name_en: str
    hut: str  # where it was borrowed
    borrowed_at: datetime
    due_at: datetime
    overdue: bool
    borrower: BorrowerStaff | None = None

    @classmethod
    def of(cls, loan: Loan, *, now: datetime, staff: bool) -> LoanPublic:
        return cls(
            id=loan.id,
            tag=loan.item.tag,
            name_zh=loan.item.name_zh,
            name_en=loan.item.name_en,
            hut=loan.hut_id,
            borrowed_at=loan.borrowed_at,
            due_at=loan.due_at,
            overdue=loan.due_at < now,
            borrower=BorrowerStaff.of(loan.member) if staff else None,
        )
