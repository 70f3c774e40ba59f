"""The phone sign-in card at the hut, pure: after the member's card tap it shows their
one-time code (the loader's, in the snapshot) and issues it; anywhere else a refusal."""

from __future__ import annotations

from datetime import timedelta

from server.domain import Action, Refusal
from server.domain.changes import (
    AnomalyRaised,
    DoorChanged,
    DoorOpened,
    ScanRecorded,
    SignInCodeIssued,
)
from server.domain.commands import DoorChange
from server.domain.labels import SIGN_IN_CARD, is_sign_in_card, parse_scan_text
from server.domain.ledger_state import DoorState, SignInOffer
from server.domain.lending import MAX_DISPLAY_BYTES, SIGN_IN_TEXT
from server.domain.rule_book import decide
from server.domain.sessions import SessionMode
from tests.server.domain_cases import NOW
from tests.server.rule_builders import (
    DOOR,
    HUT,
    STAFF_CARD,
    STOCKTAKE,
    ZHANG,
    scan,
    snapshot,
)
from toolhut.i18n import gettext

CODE = "48291735"
OFFER = SignInOffer(CODE, 10)


def test_the_sign_in_card_is_never_an_item_and_reads_in_any_case() -> None:
    assert parse_scan_text(SIGN_IN_CARD) is None
    assert is_sign_in_card(" signin:phone\n")
    assert not is_sign_in_card("SIGNIN:PHONE2")


def test_after_a_card_tap_the_display_shows_the_code_and_it_is_issued() -> None:
    effects = decide(snapshot(sign_in=OFFER), scan(SIGN_IN_CARD))

    assert effects.decision is not None
    assert effects.decision.action is Action.SIGN_IN
    assert effects.feedback is not None and effects.feedback.ok
    assert effects.feedback.text == "手机登录码 4829 1735 (10分钟)"
    assert len(effects.feedback.text.encode()) <= MAX_DISPLAY_BYTES
    issued = SignInCodeIssued(ZHANG.id, "48291735", HUT.id, NOW, NOW + timedelta(minutes=10))
    recorded = ScanRecorded(DOOR.ref, 5, NOW, SIGN_IN_CARD, None, Action.SIGN_IN)
    assert effects.changes == (issued, recorded)
    assert "48291735" not in repr(issued)  # a credential: never in a log line


def test_the_code_lasts_as_long_as_the_offer_says() -> None:
    effects = decide(snapshot(sign_in=SignInOffer("00001234", 5)), scan(SIGN_IN_CARD))
    assert effects.feedback is not None
    assert effects.feedback.text == "手机登录码 0000 1234 (5分钟)"
    assert gettext(SIGN_IN_TEXT, "en").format(code="0000 1234", minutes=5) == (
        "Phone sign-in code 0000 1234 (5 min)"
    )
    issued = effects.changes[0]
    assert isinstance(issued, SignInCodeIssued)
    assert issued.expires_at == NOW + timedelta(minutes=5)


def test_a_sign_in_scan_does_not_count_as_a_scan_of_an_item() -> None:
    """The door opened and only the sign-in card scanned: still "nothing scanned"."""
    effects = decide(snapshot(sign_in=OFFER), scan(SIGN_IN_CARD))
    assert not [c for c in effects.changes if isinstance(c, DoorChanged)]
    opened = DoorState(**{**_fields(DOOR), "door_opened_at": NOW})
    closed = decide(snapshot(door=opened), DoorChange("s1", False))
    assert [c for c in closed.changes if isinstance(c, AnomalyRaised)]


def _fields(door: DoorState) -> dict[str, object]:
    return {name: getattr(door, name) for name in door.__slots__}  # type: ignore[attr-defined]


def test_without_a_card_tap_the_display_says_tap_your_card_first() -> None:
    # No card, no door session (the loader draws no code then): no anomaly for staff either.
    effects = decide(
        snapshot(card=None, door=None, sign_in=None),
        scan(SIGN_IN_CARD, card_uid=None, door_key=None),
    )
    assert effects.decision is not None
    assert effects.reason is Refusal.NO_SESSION
    assert effects.feedback is not None and not effects.feedback.ok
    assert effects.feedback.text == "请先刷卡"
    assert effects.changes == ()


def test_a_door_session_with_no_card_gives_no_code() -> None:
    """A remote unlock for a member: nobody tapped, so whoever stands there proved nothing."""
    remote = DoorState("demo-hut", "s9", SessionMode.LENDING, NOW, member_id=ZHANG.id)
    effects = decide(
        snapshot(card=None, door=remote, opened_for=ZHANG, sign_in=OFFER),
        scan(SIGN_IN_CARD, card_uid=None, door_key="s9"),
    )
    assert effects.reason is Refusal.NO_SESSION
    assert not [c for c in effects.changes if isinstance(c, SignInCodeIssued | AnomalyRaised)]


def test_a_card_without_a_door_session_gives_no_code() -> None:
    effects = decide(snapshot(door=None, sign_in=None), scan(SIGN_IN_CARD, door_key=None))
    assert effects.reason is Refusal.NO_SESSION
    assert effects.changes == ()


def test_no_code_in_a_staff_stocktake() -> None:
    effects = decide(
        snapshot(card=STAFF_CARD, door=STOCKTAKE, sign_in=OFFER),
        scan(SIGN_IN_CARD, card_uid=STAFF_CARD.uid, door_key="s2"),
    )
    assert effects.reason is Refusal.NO_SIGN_IN_HERE
    assert effects.feedback is not None and effects.feedback.text == "盘点时不能手机登录"
    assert not [c for c in effects.changes if isinstance(c, SignInCodeIssued | DoorOpened)]
    (recorded,) = [c for c in effects.changes if isinstance(c, ScanRecorded)]
    assert recorded.action is Action.REFUSE


def test_the_code_lasts_from_when_the_server_heard_of_the_scan() -> None:
    """A gateway whose clock runs behind stamps the scan early: the display still shows
    the code for its full minutes."""
    heard = NOW + timedelta(minutes=4)
    effects = decide(snapshot(sign_in=SignInOffer(CODE, 10, shown_from=heard)), scan(SIGN_IN_CARD))
    issued = effects.changes[0]
    assert isinstance(issued, SignInCodeIssued)
    assert (issued.at, issued.expires_at) == (heard, heard + timedelta(minutes=10))
