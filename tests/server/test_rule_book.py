"""The rule book's one step, without a database: a Snapshot and a command in, Effects out.

The pure rule tests (this module, test_hut_rules, test_holds, test_staff_rules) import
nothing of the database or the web: the last test here holds them to that, in a fresh
interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta

import pytest

from server.domain import (
    Action,
    CardStatus,
    ItemCondition,
    ItemStatus,
    Refusal,
)
from server.domain.changes import (
    NEW_LOAN,
    AnomalyRaised,
    DoorChanged,
    DoorOpened,
    HoldPlaced,
    HoldWithdrawn,
    ItemChanged,
    LoanClosed,
    LoanOpened,
    NoticeQueued,
    NoticesWithdrawn,
    ReservationClosed,
    ScanRecorded,
    StocktakeOpened,
)
from server.domain.commands import CardTap, DoorChange, EnrolRead
from server.domain.ledger_state import (
    AnomalyKind,
    CardState,
    ReservationState,
    ReservationStatus,
    ReturnedLoan,
)
from server.domain.rule_book import decide
from server.domain.sessions import SessionMode
from tests.server.domain_cases import NOW
from tests.server.rule_builders import DOOR, DRILL, LOAN, STAFF, scan, snapshot


def test_borrow_opens_a_loan_and_records_the_scan_against_it() -> None:
    effects = decide(snapshot(item=DRILL), scan())
    assert effects.decision is not None and effects.decision.action is Action.BORROW
    assert effects.feedback is not None and effects.feedback.text == "已借出 电钻 还期11-30"
    due = NOW + timedelta(days=3)
    assert effects.changes == (
        ItemChanged(7, status=ItemStatus.ON_LOAN),
        LoanOpened(7, 1, "demo-hut", NOW, due),
        DoorChanged(replace(DOOR, scans=1)),
        ScanRecorded(DOOR.ref, 5, NOW, "T0001", "T0001", Action.BORROW, None, NEW_LOAN),
    )


def test_return_holds_the_item_for_the_first_in_line() -> None:
    waiting = ReservationState(9, 7, 2, ReservationStatus.WAITING, NOW - timedelta(days=1))
    on_loan = replace(DRILL, status=ItemStatus.ON_LOAN)
    effects = decide(snapshot(item=on_loan, loan=LOAN, queue=(waiting,)), scan())
    assert effects.decision is not None and effects.decision.action is Action.RETURN
    changes = effects.changes
    assert changes[0] == LoanClosed(41, NOW, "demo-hut", None)
    assert HoldPlaced(9, NOW + timedelta(hours=24)) in changes
    assert ItemChanged(7, status=ItemStatus.RESERVED) in changes
    notice = next(c for c in changes if isinstance(c, NoticeQueued))
    assert notice.member_id == 2 and notice.text == "您预约的 电钻 已可领取"
    assert changes[-1] == ScanRecorded(DOOR.ref, 5, NOW, "T0001", "T0001", Action.RETURN, None, 41)


def test_repair_card_after_a_return_withdraws_the_hold() -> None:
    held = ReservationState(
        9, 7, 2, ReservationStatus.HELD, NOW - timedelta(days=1), NOW + timedelta(hours=3)
    )
    item = replace(DRILL, status=ItemStatus.RESERVED)
    returned = ReturnedLoan(LOAN, item, (held,))
    effects = decide(snapshot(returned=returned), scan("COND:REPAIR"))
    assert effects.feedback is not None and effects.feedback.text == "已记录 需维修 谢谢"
    assert HoldWithdrawn(9) in effects.changes and NoticesWithdrawn(9) in effects.changes
    assert ItemChanged(7, status=ItemStatus.MAINTENANCE) in effects.changes
    kinds = [c.kind for c in effects.changes if isinstance(c, AnomalyRaised)]
    assert kinds == [AnomalyKind.NEEDS_REPAIR]


def test_condition_card_before_the_item_waits_on_the_door_session() -> None:
    effects = decide(snapshot(), scan("COND:MISSING"))
    assert effects.feedback is not None and effects.feedback.text == "请扫描归还的物品"
    pending = replace(DOOR, pending_condition=ItemCondition.MISSING_PART, scans=1)
    assert DoorChanged(pending) in effects.changes
    on_loan = replace(DRILL, status=ItemStatus.ON_LOAN)
    back = decide(snapshot(door=pending, item=on_loan, loan=LOAN), scan())
    assert LoanClosed(41, NOW, "demo-hut", ItemCondition.MISSING_PART) in back.changes
    assert any(
        isinstance(c, AnomalyRaised) and c.kind is AnomalyKind.MISSING_PART for c in back.changes
    )


def test_an_expired_hold_passes_on_before_the_scan_is_decided() -> None:
    held = ReservationState(
        9, 7, 2, ReservationStatus.HELD, NOW - timedelta(days=2), NOW - timedelta(hours=1)
    )
    item = replace(DRILL, status=ItemStatus.RESERVED)
    effects = decide(snapshot(item=item, queue=(held,)), scan())
    assert effects.changes[0] == ReservationClosed(9, ReservationStatus.EXPIRED, NOW)
    assert effects.decision is not None and effects.decision.action is Action.BORROW


def test_unknown_card_is_refused_and_changes_nothing() -> None:
    effects = decide(snapshot(card=None, door=None), CardTap("DEADBEEF", "s1", unlocked=True))
    assert effects.reason is Refusal.UNKNOWN_CARD and effects.changes == ()


def test_staff_card_opens_a_stocktake() -> None:
    staff = CardState("04ABCDEF", CardStatus.ACTIVE, STAFF)
    effects = decide(snapshot(card=staff, door=None), CardTap("04ABCDEF", "s2", unlocked=True))
    opened = effects.changes[0]
    assert isinstance(opened, DoorOpened) and opened.door.mode is SessionMode.STOCKTAKE
    assert isinstance(effects.changes[1], StocktakeOpened)


def test_door_closed_with_nothing_scanned_is_flagged() -> None:
    opened = replace(DOOR, door_opened_at=NOW)
    effects = decide(snapshot(door=opened), DoorChange("s1", opened=False))
    kinds = [c.kind for c in effects.changes if isinstance(c, AnomalyRaised)]
    assert kinds == [AnomalyKind.UNSCANNED_REMOVAL]
    assert effects.changes[-1] == DoorChanged(replace(opened, closed_at=NOW, flag="unscanned"))


def test_enrol_read_records_the_card_in_upper_case() -> None:
    effects = decide(snapshot(card=None), EnrolRead("04a1b2c3", "e-1"))
    (read,) = effects.changes
    assert getattr(read, "card_uid", None) == "04A1B2C3"


def test_an_unknown_command_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        decide(snapshot(), object())


PURE_TESTS = (
    "tests.server.test_rule_book",
    "tests.server.test_hut_rules",
    "tests.server.test_holds",
    "tests.server.test_staff_rules",
)
# What a pure rule test must not load, directly or through what it imports.
NOT_PURE = (
    "sqlalchemy",
    "fastapi",
    "starlette",
    "paho",
    "psycopg",
    "server.storage",
    "server.ledger",
)


def test_the_pure_rule_tests_import_no_database_web_or_broker_code() -> None:
    probe = (
        "import importlib, json, sys\n"
        f"for name in {PURE_TESTS!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.startswith({NOT_PURE!r}))\n"
        "print(json.dumps([bad, 'server.domain.rule_book' in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    bad, imported_the_rules = json.loads(done.stdout)
    assert imported_the_rules
    assert bad == []
