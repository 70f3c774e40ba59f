"""Who may open the huts, for staff: members suspended or reactivated, cards given, taken
away or reported lost. Each commit republishes the huts' allowlists."""

from __future__ import annotations

from fastapi import APIRouter, status

from server import access_actions
from server.api.auth import StaffOnly
from server.api.deps import DbDep
from server.api.errors import staff_action
from server.api.params import RowId
from server.api.staff_schemas import CardCreate, CardStaff, MemberAccessStaff

router = APIRouter(prefix="/api/v1", tags=["access"], dependencies=[StaffOnly])


@router.post("/members/{member_id}/suspend")
def suspend_member(member_id: RowId, db: DbDep) -> MemberAccessStaff:
    """The member's cards stop opening the huts; the huts say the account is suspended."""
    with staff_action():
        member = access_actions.suspend_member(db, member_id=member_id)
    db.commit()
    return MemberAccessStaff.of(member)


@router.post("/members/{member_id}/reactivate")
def reactivate_member(member_id: RowId, db: DbDep) -> MemberAccessStaff:
    with staff_action():
        member = access_actions.reactivate_member(db, member_id=member_id)
    db.commit()
    return MemberAccessStaff.of(member)


@router.post("/members/{member_id}/cards", status_code=status.HTTP_201_CREATED)
def add_card(member_id: RowId, body: CardCreate, db: DbDep) -> CardStaff:
    with staff_action():
        card = access_actions.add_card(db, member_id=member_id, uid=body.uid)
    db.commit()
    return CardStaff.of(card)


@router.delete("/cards/{uid}", status_code=status.HTTP_204_NO_CONTENT)
def remove_card(uid: str, db: DbDep) -> None:
    """The card becomes unknown to the huts."""
    with staff_action():
        access_actions.remove_card(db, uid=uid)
    db.commit()


@router.post("/cards/{uid}/lost")
def report_card_lost(uid: str, db: DbDep) -> CardStaff:
    """The card opens nothing; the huts say it was reported lost."""
    with staff_action():
        card = access_actions.report_card_lost(db, uid=uid)
    db.commit()
    return CardStaff.of(card)
