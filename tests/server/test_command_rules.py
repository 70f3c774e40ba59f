"""The rule for the gateway's report of a command, and what staff read of a command, pure:
hand-built snapshots into ``decide``, the exact changes out; no database."""

from __future__ import annotations

from datetime import timedelta

from server.domain import Action, Refusal
from server.domain.changes import CommandAnswered, DoorOpened, ScanRecorded
from server.domain.commands import CommandReport, Scan
from server.domain.ledger_state import DoorState, Snapshot
from server.domain.remote_commands import (
    NO_ANSWER_GRACE,
    CommandStatus,
    RemoteCommandState,
    command_status,
)
from server.domain.rule_book import decide
from server.domain.sessions import SessionMode
from tests.server.domain_cases import NOW
from tests.server.rule_builders import DRILL, HUT, LI, STAFF

UNLOCK = RemoteCommandState("c-1", HUT.id, "unlock")
VISIT = "gw-visit"


def _report(
    outcome: CommandStatus = CommandStatus.DONE,
    *,
    action: str = "unlock",
    door_key: str | None = VISIT,
    detail: str | None = None,
) -> CommandReport:
    return CommandReport("c-1", action, outcome, detail, door_key)


def test_a_report_answers_its_command_once() -> None:
    snapshot = Snapshot(HUT, NOW, remote_command=UNLOCK)
    effects = decide(snapshot, _report(CommandStatus.FAILED, detail="absent"))
    assert effects.changes == (CommandAnswered("c-1", CommandStatus.FAILED, NOW, "absent"),)
    assert effects.decision is None and effects.reason is None
    answered = RemoteCommandState("c-1", HUT.id, "unlock", outcome=CommandStatus.DONE)
    assert decide(Snapshot(HUT, NOW, remote_command=answered), _report()).changes == ()
    # The broker said no, but the command reached the hut after all: its report counts.
    unsent = RemoteCommandState("c-1", HUT.id, "unlock", outcome=CommandStatus.NOT_SENT)
    assert len(decide(Snapshot(HUT, NOW, remote_command=unsent), _report()).changes) == 1


def test_a_report_not_about_a_logged_command_of_this_hut_changes_nothing() -> None:
    assert decide(Snapshot(HUT, NOW), _report()).changes == ()  # unknown id: a sync, a stranger
    elsewhere = RemoteCommandState("c-1", "other-hut", "unlock")
    assert decide(Snapshot(HUT, NOW, remote_command=elsewhere), _report()).changes == ()
    assert decide(Snapshot(HUT, NOW, remote_command=UNLOCK), _report(action="status")).changes == ()


def test_an_unlock_done_for_a_member_opens_their_door_session() -> None:
    remote = RemoteCommandState("c-1", HUT.id, "unlock", member_id=LI.id)
    effects = decide(Snapshot(HUT, NOW, remote_command=remote, opened_for=LI), _report())
    opened = DoorState(HUT.id, VISIT, SessionMode.LENDING, NOW, member_id=LI.id)
    assert effects.changes == (
        CommandAnswered("c-1", CommandStatus.DONE, NOW),
        DoorOpened(opened),
    )
    # A staff member's remote visit is a stocktake, as their card's would be.
    staff = RemoteCommandState("c-1", HUT.id, "unlock", member_id=STAFF.id)
    door = decide(Snapshot(HUT, NOW, remote_command=staff, opened_for=STAFF), _report()).changes
    assert isinstance(door[1], DoorOpened) and door[1].door.mode is SessionMode.STOCKTAKE
    # Not carried out: no session.
    expired = decide(
        Snapshot(HUT, NOW, remote_command=remote, opened_for=LI), _report(CommandStatus.EXPIRED)
    )
    assert [type(c) for c in expired.changes] == [CommandAnswered]


def test_a_scan_without_a_card_in_a_remote_session_is_the_members() -> None:
    door = DoorState(HUT.id, VISIT, SessionMode.LENDING, NOW, member_id=LI.id)
    command = Scan(5, "T0001", None, VISIT)
    lent = decide(Snapshot(HUT, NOW, door=door, item=DRILL, opened_for=LI), command)
    assert lent.decision is not None and lent.decision.action is Action.BORROW
    recorded = [c for c in lent.changes if isinstance(c, ScanRecorded)]
    assert recorded[0].action is Action.BORROW
    # Without the member (an unlock for nobody in particular): nobody to lend to.
    nobody = DoorState(HUT.id, VISIT, SessionMode.LENDING, NOW)
    found = decide(Snapshot(HUT, NOW, door=nobody, item=DRILL), command)
    assert found.decision is not None and found.decision.action is Action.FOUND
    assert found.reason is not Refusal.NO_SESSION


def test_staff_read_pending_then_no_answer_unless_the_hut_reported() -> None:
    expires = NOW + timedelta(seconds=30)
    assert command_status(None, expires_at=expires, now=NOW) is CommandStatus.PENDING
    late = expires + NO_ANSWER_GRACE
    assert command_status(None, expires_at=expires, now=late) is CommandStatus.NO_ANSWER
    for stored in CommandStatus:
        assert command_status(stored, expires_at=expires, now=late) is stored
