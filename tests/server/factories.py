"""Gateway events as a real gateway would build them, with sensible defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from toolhut.contract import (
    AlarmEvent,
    AlarmKind,
    CardDecision,
    CardEvent,
    CommandAction,
    CommandEvent,
    CommandOutcome,
    ControllerEvent,
    DoorEvent,
    DoorState,
    ScanEvent,
    new_id,
)

from .conftest import T0


def scan(
    hut: str,
    seq: int,
    text: str,
    card: str | None = "04A1B2C3",
    *,
    ts: datetime = T0,
    session: str | None = None,
) -> ScanEvent:
    return ScanEvent(id=new_id(), hut=hut, seq=seq, ts=ts, text=text, card=card, session=session)


def card(
    hut: str, seq: int, uid: str = "04A1B2C3", *, ts: datetime = T0, session: str | None = None
) -> CardEvent:
    return CardEvent(
        id=new_id(),
        hut=hut,
        seq=seq,
        ts=ts,
        card=uid,
        decision=CardDecision.UNLOCKED,
        session=session,
    )


def door(
    hut: str,
    seq: int,
    *,
    ts: datetime = T0,
    state: DoorState = DoorState.OPEN,
    session: str | None = None,
) -> DoorEvent:
    return DoorEvent(id=new_id(), hut=hut, seq=seq, ts=ts, state=state, session=session)


def alarm(
    hut: str,
    seq: int,
    kind: AlarmKind = AlarmKind.FORCED_OPEN,
    *,
    active: bool = True,
    ts: datetime = T0,
) -> AlarmEvent:
    return AlarmEvent(id=new_id(), hut=hut, seq=seq, ts=ts, kind=kind, active=active)


def controller(
    hut: str,
    seq: int,
    state: Literal["hello", "ok", "silent", "absent"],
    *,
    ts: datetime = T0,
) -> ControllerEvent:
    return ControllerEvent(id=new_id(), hut=hut, seq=seq, ts=ts, state=state)


def command_report(
    hut: str,
    seq: int,
    command: str,
    *,
    action: CommandAction = "unlock",
    outcome: CommandOutcome = CommandOutcome.DONE,
    detail: str | None = None,
    ts: datetime = T0,
    session: str | None = None,
) -> CommandEvent:
    """The gateway's report of command ``command``."""
    return CommandEvent(
        id=new_id(), hut=hut, seq=seq, ts=ts, session=session, command=command,
        action=action, outcome=outcome, detail=detail,
    )  # fmt: skip
