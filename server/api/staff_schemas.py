"""Staff-only API payloads of the ledger: door sessions, stocktakes, reservations, supplies,
members' cards."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from server.api.params import RequestBody
from server.domain import BatchView, StockView
from server.storage.models import (
    Card,
    DoorSession,
    Member,
    Reservation,
    SessionScan,
    Stocktake,
)


class ScanStaff(BaseModel):
    seq: int
    at: datetime
    text: str
    tag: str | None
    action: str
    reason: str | None

    @classmethod
    def of(cls, scan: SessionScan) -> ScanStaff:
        return cls(
            seq=scan.seq,
            at=scan.at,
            text=scan.text,
            tag=scan.tag,
            action=scan.action,
            reason=scan.reason,
        )


class SessionStaff(BaseModel):
    id: int
    hut: str
    key: str
    member: str | None
    mode: str
    started_at: datetime
    door_opened_at: datetime | None
    closed_at: datetime | None
    scans: int
    flag: str | None

    @classmethod
    def of(cls, door: DoorSession) -> SessionStaff:
        return cls(
            id=door.id,
            hut=door.hut_id,
            key=door.key,
            member=None if door.member is None else door.member.name,
            mode=door.mode,
            started_at=door.started_at,
            door_opened_at=door.door_opened_at,
            closed_at=door.closed_at,
            scans=door.scans,
            flag=door.flag,
        )


class SessionsStaff(BaseModel):
    data: list[SessionStaff]
    count: int


class StocktakeLineStaff(BaseModel):
    tag: str
    result: str  # seen | missing | unexpected
    count: int


class StocktakeStaff(BaseModel):
    id: int
    hut: str
    started_at: datetime
    closed_at: datetime | None  # None: the door is still open, no report yet
    missing: list[str]
    unexpected: list[str]
    lines: list[StocktakeLineStaff]

    @classmethod
    def of(cls, stocktake: Stocktake) -> StocktakeStaff:
        lines = [
            StocktakeLineStaff(tag=line.tag, result=line.result, count=line.count)
            for line in stocktake.lines
        ]
        return cls(
            id=stocktake.id,
            hut=stocktake.hut_id,
            started_at=stocktake.started_at,
            closed_at=stocktake.closed_at,
            missing=[line.tag for line in lines if line.result == "missing"],
            unexpected=[line.tag for line in lines if line.result == "unexpected"],
            lines=lines,
        )


class ReservationCreate(RequestBody):
    card: str  # a card UID (server.card_uids)


class ReservationStaff(BaseModel):
    id: int
    tag: str
    member: str
    state: str
    created_at: datetime
    hold_until: datetime | None

    @classmethod
    def of(cls, reservation: Reservation) -> ReservationStaff:
        return cls(
            id=reservation.id,
            tag=reservation.item.tag,
            member=reservation.member.name,
            state=reservation.state,
            created_at=reservation.created_at,
            hold_until=reservation.hold_until,
        )


class SupplyStaff(BaseModel):
    tag: str
    name_zh: str
    hut: str
    quantity: int
    min_quantity: int | None = None
    expires_on: date | None = None

    @classmethod
    def of_stock(cls, stock: StockView) -> SupplyStaff:
        return cls(
            tag=stock.tag,
            name_zh=stock.name_zh,
            hut=stock.hut_id,
            quantity=stock.quantity,
            min_quantity=stock.min_quantity,
        )

    @classmethod
    def of_batch(cls, batch: BatchView) -> SupplyStaff:
        return cls(
            tag=batch.tag,
            name_zh=batch.name_zh,
            hut=batch.hut_id,
            quantity=batch.quantity,
            expires_on=batch.expires_on,
        )


class SuppliesStaff(BaseModel):
    data: list[SupplyStaff]
    count: int


class CardCreate(RequestBody):
    uid: str  # hex, as the reader or the hut's enrolment list gives it


class CardStaff(BaseModel):
    uid: str
    member_id: int
    state: str  # active | lost

    @classmethod
    def of(cls, card: Card) -> CardStaff:
        return cls(uid=card.uid, member_id=card.member_id, state=card.state.value)


class MemberAccessStaff(BaseModel):
    id: int
    status: str  # active | suspended
    cards: list[CardStaff]

    @classmethod
    def of(cls, member: Member) -> MemberAccessStaff:
        cards = sorted(member.cards, key=lambda card: card.uid)
        return cls(id=member.id, status=member.status.value, cards=[CardStaff.of(c) for c in cards])
