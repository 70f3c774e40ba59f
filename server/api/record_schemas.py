"""The records' API answers: huts, categories and flag rules, items, supplies and their
batches, stocktake summaries. What a client sends is the records' own field models
(server.records), the same ones the spreadsheet import checks rows with."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from server.api.schemas import BorrowerStaff, ItemPublic, SupplyPublic
from server.domain import ItemCondition
from server.records.items import ItemRecord
from server.storage.models import (
    Consumable,
    ConsumableBatch,
    Hut,
    ItemCategory,
    ItemStatusChange,
    Loan,
    MemberFlagRule,
    Stocktake,
)


class HutRecord(BaseModel):
    """A hut as anyone may see it (its contact phone is the hut's, for residents to call:
    not a person's); ``version`` only for staff."""

    id: str
    name: str
    address: str | None
    timezone: str
    opening_hours: dict[str, Any] | None  # {"tz": ..., "week": {"mon": [["08:00", "20:00"]]}}
    contact_phone: str | None = None
    version: int | None = None

    @classmethod
    def of(cls, hut: Hut, *, staff: bool) -> HutRecord:
        return cls(
            id=hut.id,
            name=hut.name,
            address=hut.address,
            timezone=hut.timezone,
            opening_hours=hut.opening_hours,
            contact_phone=hut.contact_phone,
            version=hut.version if staff else None,
        )


class CategoryRecord(BaseModel):
    key: str
    name_zh: str
    name_en: str
    loan_days: int
    max_renewals: int
    max_per_member: int
    hold_hours: int
    senior_first: bool
    version: int

    @classmethod
    def of(cls, row: ItemCategory) -> CategoryRecord:
        return cls.model_validate(row, from_attributes=True)


class FlagRuleRecord(BaseModel):
    flag: str
    extra_loan_days: int

    @classmethod
    def of(cls, row: MemberFlagRule) -> FlagRuleRecord:
        return cls(flag=row.flag, extra_loan_days=row.extra_loan_days)


class FlagRules(BaseModel):
    data: list[FlagRuleRecord]
    count: int


class BorrowerRecord(BorrowerStaff):
    member_id: int


class LoanLine(BaseModel):
    id: int
    member: BorrowerRecord
    borrowed_at: datetime
    due_at: datetime
    returned_at: datetime | None
    lost_at: datetime | None
    renewals: int

    @classmethod
    def of(cls, loan: Loan) -> LoanLine:
        member = loan.member
        return cls(
            id=loan.id,
            member=BorrowerRecord(
                member_id=member.id, name=member.name, building_unit=member.building_unit
            ),
            borrowed_at=loan.borrowed_at,
            due_at=loan.due_at,
            returned_at=loan.returned_at,
            lost_at=loan.lost_at,
            renewals=loan.renewals,
        )


class StatusLine(BaseModel):
    at: datetime
    from_status: str
    to_status: str
    reason: str
    actor: str

    @classmethod
    def of(cls, row: ItemStatusChange) -> StatusLine:
        return cls(
            at=row.at,
            from_status=row.from_status,
            to_status=row.to_status,
            reason=row.reason,
            actor=row.actor,
        )


class ItemStaff(ItemPublic):
    """An item as staff see it: the record, the open loan's borrower, the loans (newest
    first) and the statuses staff set by hand."""

    owner: str | None
    condition: ItemCondition
    loan_days: int | None
    max_renewals: int | None
    status_reason: str | None
    notes: str | None
    version: int
    loan_id: int | None
    loans: list[LoanLine]
    history: list[StatusLine]

    @classmethod
    def of_record(cls, record: ItemRecord) -> ItemStaff:
        item, loan = record.shelf.item, record.shelf.loan
        public = ItemPublic.of(record.shelf, staff=True)
        return cls(
            **public.model_dump(),
            owner=item.owner,
            condition=item.condition,
            loan_days=item.loan_days,
            max_renewals=item.max_renewals,
            status_reason=item.status_reason,
            notes=item.notes,
            version=item.version,
            loan_id=None if loan is None else loan.id,
            loans=[LoanLine.of(row) for row in record.loans],
            history=[StatusLine.of(row) for row in record.history],
        )


class BatchRecord(BaseModel):
    id: int
    quantity: int
    expires_on: date | None
    received_on: date | None

    @classmethod
    def of(cls, batch: ConsumableBatch) -> BatchRecord:
        return cls(
            id=batch.id,
            quantity=batch.quantity,
            expires_on=batch.expires_on,
            received_on=batch.received_on,
        )


class SupplyRecord(BaseModel):
    tag: str
    name_zh: str
    name_en: str
    category: str
    hut: str
    quantity: int
    min_quantity: int
    notes: str | None
    version: int
    batches: list[BatchRecord]

    @classmethod
    def of(cls, supply: Consumable) -> SupplyRecord:
        public = SupplyPublic.of(supply).model_dump(exclude={"in_stock"})
        return cls(
            **public,
            quantity=supply.quantity,
            min_quantity=supply.min_quantity,
            notes=supply.notes,
            version=supply.version,
            batches=[BatchRecord.of(batch) for batch in supply.batches],
        )


class StocktakeSummary(BaseModel):
    """A stocktake in the list; its report is GET /api/v1/stocktakes/{id}."""

    id: int
    hut: str
    started_at: datetime
    closed_at: datetime | None
    missing: int
    unexpected: int

    @classmethod
    def of(cls, stocktake: Stocktake) -> StocktakeSummary:
        results = [line.result for line in stocktake.lines]
        return cls(
            id=stocktake.id,
            hut=stocktake.hut_id,
            started_at=stocktake.started_at,
            closed_at=stocktake.closed_at,
            missing=results.count("missing"),
            unexpected=results.count("unexpected"),
        )


__all__ = [
    "BatchRecord",
    "CategoryRecord",
    "FlagRuleRecord",
    "FlagRules",
    "HutRecord",
    "ItemStaff",
    "StatusLine",
    "StocktakeSummary",
    "SupplyRecord",
]
