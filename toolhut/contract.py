"""The MQTT wire between a hut gateway and the server: topics, payloads, version.

This module is the only place that builds a topic string or a payload. Both the gateway
and the server import it; docs/mqtt-contract.md describes it for people.

Topics (``<prefix>`` is configurable so test runs sharing one broker never collide)::

    <prefix>/v1/<hut>/events     gateway -> server   Event          QoS 1
    <prefix>/v1/<hut>/ack        server  -> gateway  AckBatch       QoS 1
    <prefix>/v1/<hut>/cmd        server  -> gateway  Command        QoS 1, never retained
    <prefix>/v1/<hut>/status     gateway -> all      Status         QoS 1, retained, last will
    <prefix>/v1/<hut>/allowlist  server  -> gateway  Allowlist      QoS 1, retained

Every message travels sealed with its hut's key (toolhut/hut_keys.py): ``message.sealed(key)``
gives the bytes to publish, and the ``parse_*`` functions take the key and refuse a message
whose seal does not match, so nothing consumed off the wire is read unverified.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from toolhut.opening_hours import OpeningHours

VERSION = "v1"
DEFAULT_PREFIX = "toolhut"

HUT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_HUT_ID = re.compile(HUT_ID_PATTERN)
# Topic levels may not hold MQTT wildcards or separators; a prefix may have several levels.
_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")

MAX_SCAN_TEXT = 4096
MAX_DISPLAY_BYTES = 64  # the hut display's limit, in UTF-8 bytes (a Chinese character is 3)
CARD_UID_PATTERN = r"^[0-9A-F]{8,20}$"

# Every integer of the contract stays within what both databases store (PostgreSQL's
# bigint and SQLite's integer end at 2**63-1; 2**63 became a float in SQLite and jammed the
# hut) and what a browser's JSON reader holds exactly (a double: integers up to 2**53-1).
MAX_WIRE_INT = 2**53 - 1
# C0 controls, DEL and C1 controls: a NUL made PostgreSQL fail a whole batch, and none of
# them belongs in a label, an id or a display line.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ContractError(ValueError):
    """A topic or payload that does not follow this contract."""


class TopicKind(StrEnum):
    EVENTS = "events"
    ACK = "ack"
    CMD = "cmd"
    STATUS = "status"
    ALLOWLIST = "allowlist"


class MessageKey(Protocol):
    """What the contract needs of a hut's key (toolhut/hut_keys.py holds the real one, and
    imports this module, not the other way round)."""

    @property
    def hut(self) -> str: ...

    def seal(self, kind: TopicKind, body: bytes) -> bytes: ...

    def unseal(self, kind: TopicKind, payload: bytes) -> bytes: ...

    def card_hash(self, salt: str, card: str) -> str: ...

    def card_tag(self, salt: str, card: str) -> bytes: ...


def check_hut_id(hut: str) -> str:
    if not _HUT_ID.fullmatch(hut):
        raise ContractError(f"invalid hut id {hut!r}: lowercase letters, digits, '-' or '_'")
    return hut


@dataclass(frozen=True, slots=True)
class Topics:
    """Builds and parses every topic of the contract under one prefix."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ContractError(f"invalid topic prefix {self.prefix!r}")

    def for_hut(self, hut: str, kind: TopicKind) -> str:
        return f"{self.prefix}/{VERSION}/{check_hut_id(hut)}/{kind.value}"

    def events(self, hut: str) -> str:
        return self.for_hut(hut, TopicKind.EVENTS)

    def ack(self, hut: str) -> str:
        return self.for_hut(hut, TopicKind.ACK)

    def cmd(self, hut: str) -> str:
        return self.for_hut(hut, TopicKind.CMD)

    def status(self, hut: str) -> str:
        return self.for_hut(hut, TopicKind.STATUS)

    def allowlist(self, hut: str) -> str:
        return self.for_hut(hut, TopicKind.ALLOWLIST)

    def all_huts(self, kind: TopicKind) -> str:
        """Subscription filter for one kind of topic across every hut."""
        return f"{self.prefix}/{VERSION}/+/{kind.value}"

    def shared(self, group: str, kind: TopicKind) -> str:
        """MQTT 5 shared subscription, so several server processes split the load."""
        return f"$share/{group}/{self.all_huts(kind)}"

    def parse(self, topic: str) -> tuple[str, TopicKind]:
        """Return (hut, kind) of a topic under this prefix, or raise ContractError."""
        head = f"{self.prefix}/{VERSION}/"
        if not topic.startswith(head):
            raise ContractError(f"topic {topic!r} is not under {head!r}")
        parts = topic[len(head) :].split("/")
        if len(parts) != 2:
            raise ContractError(f"topic {topic!r} has the wrong number of levels")
        hut, kind = parts
        try:
            return check_hut_id(hut), TopicKind(kind)
        except ValueError as exc:
            raise ContractError(f"topic {topic!r}: {exc}") from exc


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class _Sealable(_Message):
    """A message of its own topic: published only sealed with its hut's key."""

    KIND: ClassVar[TopicKind]
    if TYPE_CHECKING:  # each message declares it in its own place, for the JSON's order
        hut: str

    def sealed(self, key: MessageKey) -> bytes:
        """The bytes to publish: this message with the MAC of ``key`` (its hut's)."""
        if key.hut != self.hut:
            raise ContractError(f"a message of hut {self.hut!r} sealed with hut {key.hut!r}'s key")
        return key.seal(self.KIND, self.to_bytes())


_M = TypeVar("_M", bound=BaseModel)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def refuse_control_chars(text: str) -> str:
    """The text itself, or ValueError if it holds a control character."""
    if text.isascii() and text.isprintable():  # the usual text, without the search
        return text
    found = CONTROL_CHARS.search(text)
    if found is not None:
        raise ValueError(f"control character U+{ord(found.group()):04X} at {found.start()}")
    return text


# Every string field of the contract is Text (or a pattern that admits no control char).
Text = Annotated[str, AfterValidator(refuse_control_chars)]
Count = Annotated[int, Field(ge=0, le=MAX_WIRE_INT)]
Positive = Annotated[int, Field(ge=1, le=MAX_WIRE_INT)]
MessageId = Annotated[Text, Field(min_length=8, max_length=64)]
HutId = Annotated[str, Field(pattern=HUT_ID_PATTERN)]
CardUid = Annotated[str, Field(pattern=CARD_UID_PATTERN)]
Firmware = Annotated[Text, Field(max_length=32)]


class _EventBase(_Sealable):
    """Fields every event carries: a globally unique id, the hut, its per-hut sequence
    number (1, 2, 3 ... in the order the gateway recorded them) and the gateway's clock."""

    KIND: ClassVar[TopicKind] = TopicKind.EVENTS
    v: Literal[1] = 1
    id: MessageId
    hut: HutId
    seq: Positive
    ts: AwareDatetime
    session: Annotated[Text, Field(max_length=64)] | None = None


class CardDecision(StrEnum):
    UNLOCKED = "unlocked"
    DENIED = "denied"
    ENROL = "enrol"  # read in staff enrol mode: reported, the door stays shut


class CardState(StrEnum):
    """What the allowlist says about a card it lists; a card it does not list is unknown."""

    ACTIVE = "active"  # opens the door
    SUSPENDED = "suspended"  # its member's account is suspended
    LOST = "lost"  # reported lost: whoever taps it now is not its member
    ELSEWHERE = "elsewhere"  # its member may open other huts, not this one


class DenialReason(StrEnum):
    """Why the gateway denied a listed card. An unknown card (or no list yet) carries no
    reason, as before this field existed."""

    SUSPENDED = "suspended"
    LOST = "lost"
    ELSEWHERE = "elsewhere"  # the card's member may not open this hut
    CLOSED = "closed"  # an active card, outside the hut's opening hours


class CardEvent(_EventBase):
    """A card was tapped; the gateway decided locally from its allowlist."""

    type: Literal["card"] = "card"
    card: CardUid
    decision: CardDecision
    # Only on a denial by a list that names the card suspended, lost or elsewhere, or that
    # carries opening hours: such lists come only from servers that know this field (and
    # its values), so an older server never receives it.
    reason: DenialReason | None = None


class ScanEvent(_EventBase):
    """A QR label was scanned. ``card`` is the card of the open session, if any."""

    type: Literal["scan"] = "scan"
    text: Annotated[Text, Field(max_length=MAX_SCAN_TEXT)]
    card: CardUid | None = None


class DoorState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class DoorEvent(_EventBase):
    type: Literal["door"] = "door"
    state: DoorState


class ControllerEvent(_EventBase):
    """The hut controller said hello (after every open or reset), fell silent (no frame
    for too long), was heard again after silence (``ok``) or its serial device went away
    (``absent``: unplugged, or not there when the gateway started)."""

    type: Literal["controller"] = "controller"
    state: Literal["hello", "ok", "silent", "absent"]
    firmware: Firmware | None = None


class AlarmKind(StrEnum):
    FORCED_OPEN = "forced_open"  # door opened while the lock was engaged
    HELD_OPEN = "held_open"  # door open longer than the limit
    TAMPER = "tamper"  # enclosure switch or reader cable


class AlarmEvent(_EventBase):
    """An alarm raised (``active``) or cleared. ``source`` says who noticed: the controller
    itself, or the gateway's own held-open limit when the controller did not say so."""

    type: Literal["alarm"] = "alarm"
    kind: AlarmKind
    active: bool
    source: Literal["controller", "gateway"] = "controller"


class CommandOutcome(StrEnum):
    """What the gateway did with a command of the server's."""

    DONE = "done"  # carried out (an unlock: the controller took the Unlock frame)
    EXPIRED = "expired"  # it came after its expiry and was not carried out
    FAILED = "failed"  # it could not be carried out (``detail`` says why: controller absent)


CommandAction = Literal["unlock", "feedback", "enrol", "sync", "status"]


class CommandEvent(_EventBase):
    """The gateway's report of a command it received (added in v1): recorded in its outbox
    like every event, so the server hears it even after an outage. Only commands it could
    verify are reported (a replayed or forged one is logged at the hut, not answered)."""

    type: Literal["command"] = "command"
    command: MessageId
    action: CommandAction
    outcome: CommandOutcome
    detail: Annotated[Text, Field(max_length=200)] | None = None


AnyEvent = CardEvent | ScanEvent | DoorEvent | ControllerEvent | AlarmEvent | CommandEvent
Event = Annotated[AnyEvent, Field(discriminator="type")]
_EVENT = TypeAdapter(Event)


class Beep(StrEnum):
    OK = "ok"
    ERROR = "error"
    NONE = "none"


class Feedback(_Message):
    """What the hut says back to the resident: a beep and a short display text."""

    beep: Beep
    text: Text = ""

    @field_validator("text")
    @classmethod
    def _fits_display(cls, text: str) -> str:
        if len(text.encode()) > MAX_DISPLAY_BYTES:
            raise ValueError(f"display text is over {MAX_DISPLAY_BYTES} UTF-8 bytes")
        return text


class Outcome(StrEnum):
    APPLIED = "applied"  # committed now
    DUPLICATE = "duplicate"  # committed before; nothing changed
    REJECTED = "rejected"  # recorded but refused by the rules (unknown card, unknown tag ...)
    # Stored durably but held back: an earlier seq of this hut has not arrived yet. The
    # gateway may forget it; the server applies it once the gap fills or times out.
    QUEUED = "queued"


class EventAck(_Message):
    id: MessageId
    seq: Positive
    outcome: Outcome
    feedback: Feedback | None = None


class AckBatch(_Sealable):
    """Sent after the server committed these events: the gateway may forget them."""

    KIND: ClassVar[TopicKind] = TopicKind.ACK
    v: Literal[1] = 1
    hut: HutId
    acks: Annotated[list[EventAck], Field(min_length=1, max_length=1000)]


class Command(_Sealable):
    """Server -> gateway. Never retained; stale commands expire (an unlock an hour late
    would be worse than none)."""

    KIND: ClassVar[TopicKind] = TopicKind.CMD
    v: Literal[1] = 1
    id: MessageId
    hut: HutId
    issued: AwareDatetime
    expires: AwareDatetime
    # enrol: report the next card tapped (CardEvent decision "enrol") instead of unlocking;
    # sync: the server's ingest (re)connected: resend the unacked outbox window now;
    # status: publish the retained status now (staff asked for a fresh report)
    action: CommandAction
    feedback: Feedback | None = None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires


class GatewayState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class StatusCounters(_Message):
    """Running totals since the gateway started: what went wrong, not how often things
    went right, apart from ``frames``."""

    frames: Count = 0  # good frames from the controller
    garbage_bytes: Count = 0  # serial bytes that were not a frame
    bad_crc: Count = 0
    oversize: Count = 0
    malformed: Count = 0  # includes payloads out of range (UID size)
    unknown_type: Count = 0
    gave_up: Count = 0  # frames to the controller it never acked
    reopens: Count = 0  # serial device opened again after a loss
    rejected_messages: Count = 0  # MQTT messages the gateway refused


class Status(_Sealable):
    """Retained. The last will publishes ``{"v":1,"hut":...,"state":"offline"}`` (sealed)."""

    KIND: ClassVar[TopicKind] = TopicKind.STATUS
    v: Literal[1] = 1
    hut: HutId
    state: GatewayState
    ts: AwareDatetime | None = None
    firmware: Firmware | None = None
    door: DoorState | None = None
    controller: Literal["ok", "silent", "absent"] | None = None
    allowlist: Positive | None = None  # version the gateway decides with
    outbox: Count | None = None  # events not yet acked by the server
    alarms: Annotated[list[AlarmKind], Field(max_length=len(AlarmKind))] | None = (
        None  # [] when none
    )
    counters: StatusCounters | None = None
    # The gateway's view of the lock: unlocked from its Unlock until the pulse has passed.
    lock: Literal["locked", "unlocked"] | None = None
    uptime_s: Count | None = None  # of the gateway process


CardHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
CardHashes = Annotated[list[CardHash], Field(max_length=100_000)]
# A card of another hut is named by a tag of this many bytes (HutKey.card_tag), not a hash:
# the list's size then follows the district by 4 bytes a card, not 67 (docs/mqtt-contract.md).
CARD_TAG_BYTES = 4
CARD_TAGS_MAX = 1_000_000
CardTags = Annotated[
    str,
    Field(max_length=(CARD_TAGS_MAX * CARD_TAG_BYTES + 2) // 3 * 4, pattern=r"^[A-Za-z0-9+/]*=*$"),
]


def card_tags(tags: bytes) -> frozenset[bytes]:
    """The tags of an ``elsewhere_tags`` field, decoded."""
    return frozenset(tags[i : i + CARD_TAG_BYTES] for i in range(0, len(tags), CARD_TAG_BYTES))


class Allowlist(_Sealable):
    """Retained, per hut. ``version`` only grows: a gateway ignores an older one.

    ``cards`` open the door; ``suspended``, ``lost`` and ``elsewhere`` (added in v1, left
    out when empty) list cards that do not, so the hut can say why. ``hours`` (added in v1,
    left out when the hut is always open): outside them only the ``anytime`` cards (a subset
    of ``cards``: staff, for stocktakes and repairs) open the door. Every list holds keyed
    hashes only (``HutKey.card_hash``: the card key never travels, the salt does)."""

    KIND: ClassVar[TopicKind] = TopicKind.ALLOWLIST
    v: Literal[1] = 1
    hut: HutId
    version: Positive
    issued: AwareDatetime
    salt: Annotated[Text, Field(min_length=8, max_length=64)]
    cards: CardHashes
    suspended: CardHashes | None = None
    lost: CardHashes | None = None
    elsewhere: CardHashes | None = None
    hours: OpeningHours | None = None  # None: always open
    anytime: CardHashes | None = None
    elsewhere_tags: CardTags | None = None  # base64 of CARD_TAG_BYTES-byte tags, concatenated

    @field_validator("cards")
    @classmethod
    def _unique(cls, cards: list[str]) -> list[str]:
        return sorted(set(cards))

    @field_validator("suspended", "lost", "elsewhere", "anytime")
    @classmethod
    def _unique_or_none(cls, cards: list[str] | None) -> list[str] | None:
        # Empty is left out, so a list without such cards reads as before these fields.
        return sorted(set(cards)) if cards else None

    @field_validator("elsewhere_tags")
    @classmethod
    def _whole_tags(cls, tags: str | None) -> str | None:
        if not tags:
            return None
        try:
            raw = base64.b64decode(tags, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"elsewhere_tags is not base64: {exc}") from exc
        if len(raw) % CARD_TAG_BYTES:
            raise ValueError(f"elsewhere_tags is not a whole number of {CARD_TAG_BYTES}-byte tags")
        return tags

    def elsewhere_tag_set(self) -> frozenset[bytes]:
        """The tags of the cards elsewhere at this hut (``elsewhere_tags``), decoded."""
        return card_tags(base64.b64decode(self.elsewhere_tags or ""))

    @model_validator(mode="after")
    def _one_state_per_card(self) -> Allowlist:
        listed = [
            *self.cards,
            *(self.suspended or ()),
            *(self.lost or ()),
            *(self.elsewhere or ()),
        ]
        if len(set(listed)) != len(listed):
            raise ValueError("a card is listed in more than one state")
        if not set(self.anytime or ()) <= set(self.cards):
            raise ValueError("an anytime card is not among the cards that open the door")
        return self

    def states(self) -> dict[str, CardState]:
        """Card hash -> state, for every card the list names."""
        states = dict.fromkeys(self.cards, CardState.ACTIVE)
        states.update(dict.fromkeys(self.suspended or (), CardState.SUSPENDED))
        states.update(dict.fromkeys(self.lost or (), CardState.LOST))
        states.update(dict.fromkeys(self.elsewhere or (), CardState.ELSEWHERE))
        return states

    def state_of(self, card: str, *, key: MessageKey) -> CardState | None:
        """The card's state, or None for a card the list does not name (unknown). A card
        named by its hash wins over a tag in ``elsewhere_tags``."""
        state = self.states().get(key.card_hash(self.salt, card))
        tagged = self.elsewhere_tags and key.card_tag(self.salt, card) in self.elsewhere_tag_set()
        return CardState.ELSEWHERE if state is None and tagged else state

    def counts(self) -> str:
        """What the list holds, for a log line (counts only, never a hash)."""
        return (
            f"{len(self.cards)} cards ({len(self.anytime or ())} anytime), "
            f"{len(self.suspended or ())} suspended, {len(self.lost or ())} lost, "
            f"{len(self.elsewhere or ()) + self._tag_count()} elsewhere; "
            + ("always open" if self.hours is None else "with opening hours")
        )

    def _tag_count(self) -> int:
        return len(base64.b64decode(self.elsewhere_tags or "")) // CARD_TAG_BYTES

    def admits(self, card: str, *, key: MessageKey) -> bool:
        """Whether the card may open the door at all (opening hours aside)."""
        return self.state_of(card, key=key) is CardState.ACTIVE

    def opens_anytime(self, card: str, *, key: MessageKey) -> bool:
        """Whether the card opens the door outside the opening hours too."""
        return key.card_hash(self.salt, card) in set(self.anytime or ())

    def open_at(self, at: datetime) -> bool:
        """Whether the hut is open at ``at`` (always, when the list carries no hours)."""
        return self.hours is None or self.hours.is_open(at)


_S = TypeVar("_S", bound=_Sealable)


def _opened(model: type[_S], payload: bytes, key: MessageKey) -> _S:
    message = _parse(model, key.unseal(model.KIND, payload))
    if message.hut != key.hut:
        raise ContractError(f"{model.__name__} names hut {message.hut!r}, sealed for {key.hut!r}")
    return message


def _parse(model: type[_M], payload: bytes) -> _M:
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        raise ContractError(f"invalid {model.__name__}: {_summary(exc)}") from exc


def _summary(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


# Each parse_* takes the bytes off the wire and the key of the hut of their topic: a message
# whose seal does not match (forged, altered, another hut's, another kind's) is a
# ContractError, as is one that names another hut inside.


def parse_event(payload: bytes, *, key: MessageKey) -> AnyEvent:
    body = key.unseal(TopicKind.EVENTS, payload)
    try:
        event = _EVENT.validate_json(body)
    except ValidationError as exc:
        raise ContractError(f"invalid event: {_summary(exc)}") from exc
    if event.hut != key.hut:
        raise ContractError(f"event names hut {event.hut!r}, sealed for {key.hut!r}")
    return event


def parse_ack(payload: bytes, *, key: MessageKey) -> AckBatch:
    return _opened(AckBatch, payload, key)


def parse_command(payload: bytes, *, key: MessageKey) -> Command:
    return _opened(Command, payload, key)


def parse_status(payload: bytes, *, key: MessageKey) -> Status:
    return _opened(Status, payload, key)


def parse_allowlist(payload: bytes, *, key: MessageKey) -> Allowlist:
    return _opened(Allowlist, payload, key)


def stored_event(data: Mapping[str, Any]) -> AnyEvent:
    """An event the server stored itself (verified when it arrived), read back from its
    event log."""
    try:
        return _EVENT.validate_python(data)
    except ValidationError as exc:
        raise ContractError(f"invalid stored event: {_summary(exc)}") from exc


def offline_status(hut: str) -> Status:
    return Status(hut=hut, state=GatewayState.OFFLINE)
