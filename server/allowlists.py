"""The huts' allowlists: built from the cards and their members, published retained, and
published again only when what they say changed.

A list is per hut: every card's access (the same at every hut, built once), except the
cards of members who may open other huts only (``elsewhere`` here), with the hut's opening
hours and, if it has hours, the staff cards that open outside them (``anytime``). What a
list says is summed up in a digest of the cards' access (hashed once for all huts) and the
hut's own part, keyed with the hut's card key and stored on each hut's row with the
version: a check finds a hut whose digest differs from the cards' now and publishes it
(only the huts a change concerns), and a second process checking the same moment finds
the hut's version moved, checks again and publishes nothing. The salt is new with each list
published, never with each check. Card hashes are keyed with the hut's card key, and each
list is sealed with the hut's key: only this server's lists open a hut's door.
"""

from __future__ import annotations

import base64
import hmac
import logging
import secrets
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from server.clock import Clock
from server.domain import CardAccess, HutLimits, card_access, opens_anytime
from server.storage import queries
from server.storage.models import Hut
from server.storage.queries import CardOfMember
from toolhut.contract import Allowlist, Topics
from toolhut.hut_keys import HutKey, HutKeyring
from toolhut.opening_hours import OpeningHours

log = logging.getLogger(__name__)

_PUBLISH_WAIT_S = 5.0


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int = ..., retain: bool = ...) -> Any: ...


class AllowlistNotPublishedError(RuntimeError):
    """The broker did not confirm an allowlist; its transaction is rolled back."""


_SET_HASH_MODULUS = 2**256


def _card_sum(uids: Iterable[str]) -> int:
    """A hash of a set of cards that can be taken apart: the sum of the members' SHA-256,
    modulo 2**256. The sum over a hut's elsewhere cards is the sum over every limited card
    less the sum over the limited cards that open the hut, so a hut's digest costs its own
    few cards, not the district's."""
    return sum(int.from_bytes(sha256(uid.encode()).digest(), "big") for uid in uids)


@dataclass(frozen=True, slots=True)
class CardAccessList:
    """Every card's access, by uid, as it is at every hut, and what changes it at some:
    built once for all huts (``for_hut`` adds one hut's part, small beside it)."""

    entries: tuple[tuple[str, CardAccess], ...]
    limits: HutLimits  # whose cards are elsewhere at which hut
    anytime: frozenset[str]  # active cards of members who open outside the hours
    shared: bytes  # the digest of what is the same at every hut (entries, unkeyed)
    limited_sum: int  # _card_sum of every limited card
    upper: tuple[bytes, ...]  # each entry's uid in uppercase, encoded (for HutKey.card_tags)

    @classmethod
    def of(cls, cards: Sequence[CardOfMember]) -> CardAccessList:
        entries = tuple(
            (card.uid, card_access(card=card.state, member=card.member_status)) for card in cards
        )
        limits = HutLimits.of(
            (uid, access, card.member_huts)
            for (uid, access), card in zip(entries, cards, strict=True)
        )
        anytime = frozenset(
            uid
            for (uid, access), card in zip(entries, cards, strict=True)
            if opens_anytime(access, flags=card.member_flags)
        )
        text = "\n".join(f"{uid}:{access.value}" for uid, access in entries).encode()
        upper = tuple(uid.upper().encode() for uid, _ in entries)
        return cls(
            entries, limits, anytime, sha256(text).digest(), _card_sum(limits.limited), upper
        )

    def for_hut(self, hut: Hut) -> HutAccessList:
        hours = opening_hours(hut)
        # Without hours every card that opens opens anytime: the list need not say which.
        # Else the staff cards, less those elsewhere here (limited, and not to this hut).
        opening = self.limits.opening.get(hut.id, frozenset())
        anytime = (
            frozenset()
            if hours is None
            else frozenset(u for u in self.anytime if u not in self.limits.limited or u in opening)
        )
        return HutAccessList(self, hut_id=hut.id, hours=hours, anytime=anytime)

    def elsewhere_sum(self, hut_id: str) -> int:
        """_card_sum of the cards elsewhere at ``hut_id``, from the hut's own cards."""
        opening = self.limits.opening.get(hut_id, frozenset())
        return (self.limited_sum - _card_sum(opening)) % _SET_HASH_MODULUS


@dataclass(frozen=True, slots=True)
class HutAccessList:
    """One hut's list: the cards' access there, its opening hours, who opens anytime."""

    cards: CardAccessList
    hut_id: str
    hours: OpeningHours | None
    anytime: frozenset[str]

    @property
    def elsewhere(self) -> frozenset[str]:
        """The active cards of members limited to other huts: a set difference over all
        of them, made only for a list that is published, never for a check."""
        return self.cards.limits.elsewhere_at(self.hut_id)

    def digest(self, key: HutKey, *, tags: bool = True) -> str:
        """What the list of ``key``'s hut says, keyed so the stored digest tells nothing.
        Its elsewhere cards count by their sum (``_card_sum``): a check of every hut
        costs each hut's own cards, where a sorted listing of the district's limited
        cards cost about 10 ms a hut at 20,000 cards (500 huts: 5 s of every check)."""
        own = "\n".join(
            [
                "hours:" + ("" if self.hours is None else self.hours.model_dump_json()),
                f"elsewhere:{self.cards.elsewhere_sum(self.hut_id):064x}",
                "anytime:" + ",".join(sorted(self.anytime)),
                "elsewhere as:" + ("tags" if tags else "hashes"),
            ]
        )
        return hmac.new(key.card_key, self.cards.shared + own.encode(), sha256).hexdigest()

    def allowlist(
        self, *, key: HutKey, version: int, issued: datetime, tags: bool = True
    ) -> Allowlist:
        """The list, every card keyed with the hut's card key and a new salt. ``tags``:
        the cards elsewhere here as short tags (``elsewhere_tags``, CARD_TAG_BYTES a card),
        else as hashes like the others (for gateways older than the tags)."""
        salt = secrets.token_hex(8)
        hashes: defaultdict[CardAccess, list[str]] = defaultdict(list)
        anytime = []
        elsewhere = self.elsewhere
        others: list[bytes] = []
        for (uid, access), upper in zip(self.cards.entries, self.cards.upper, strict=True):
            if tags and uid in elsewhere:
                others.append(upper)
                continue
            card_hash = key.card_hash(salt, uid)
            hashes[CardAccess.ELSEWHERE if uid in elsewhere else access].append(card_hash)
            if uid in self.anytime:
                anytime.append(card_hash)
        return Allowlist(
            hut=key.hut,
            version=version,
            issued=issued,
            salt=salt,
            cards=hashes[CardAccess.ACTIVE],
            suspended=hashes[CardAccess.SUSPENDED],
            lost=hashes[CardAccess.LOST],
            elsewhere=hashes[CardAccess.ELSEWHERE],
            hours=self.hours,
            anytime=anytime,
            elsewhere_tags=base64.b64encode(b"".join(sorted(key.card_tags(salt, others)))).decode(),
        )


def opening_hours(hut: Hut) -> OpeningHours | None:
    """The hut's stored hours; None (always open) if it has none, or if what is stored is
    not valid hours (typed into the database by hand: logged, and the hut's list still
    goes out with every card's access)."""
    if hut.opening_hours is None:
        return None
    try:
        return OpeningHours.model_validate(hut.opening_hours)
    except ValidationError as exc:
        log.error("hut %s: stored opening hours are not valid, publishing none: %s", hut.id, exc)
        return None


def card_access_list(db: Session) -> CardAccessList:
    return CardAccessList.of(queries.card_states(db))


def publish_allowlists(
    sessions: sessionmaker[Session],
    publisher: Publisher,
    *,
    topics: Topics,
    keyring: HutKeyring,
    clock: Clock,
    force: bool = True,
    huts: Collection[str] | None = None,
    unless_published_since: datetime | None = None,
    tags: bool = True,
) -> list[Allowlist]:
    """Publish the allowlist (retained) of every hut (or of ``huts``), or with
    ``force=False`` only of the huts whose last published list says something else than
    the cards say now. ``unless_published_since`` (with ``force``): skip a hut whose list
    was published since then (by another process that heard the same gateway: its version
    is the time of publishing, in ms). ``tags``: the cards elsewhere at a hut as short tags
    (HutAccessList.allowlist).

    The lists are built (hashed and sealed) from one read of the huts and then the cards,
    holding no lock. Each is then published in a transaction of its own that locks its
    hut's row and goes on only if the hut's version is still the one read before the
    cards: a list that another process published meanwhile was built from cards read
    later, so the retained list never goes back to an older version or content. A hut
    whose version moved is checked again (``force=False``) from a fresh read."""
    published: list[Allowlist] = []
    wanted = None if huts is None else frozenset(huts)
    since_ms = None if unless_published_since is None else _ms(unless_published_since)
    while True:
        moved = _publish_round(
            sessions, publisher, topics=topics, keyring=keyring, clock=clock,
            force=force, huts=wanted, since_ms=since_ms, published=published, tags=tags,
        )  # fmt: skip
        if not moved:
            return published
        wanted, force = moved, False


@dataclass(frozen=True, slots=True)
class _Due:
    """A hut's list to publish, as read: its version before the cards, what it says."""

    read_version: int
    access: HutAccessList
    digest: str


def _publish_round(
    sessions: sessionmaker[Session],
    publisher: Publisher,
    *,
    topics: Topics,
    keyring: HutKeyring,
    clock: Clock,
    force: bool,
    huts: frozenset[str] | None,
    since_ms: int | None,
    published: list[Allowlist],
    tags: bool,
) -> frozenset[str]:
    """One read, then each list built, sealed and published in turn (one in memory at a
    time); returns the huts whose version moved meanwhile."""
    due: list[_Due] = []
    with sessions() as db:
        rows = [hut for hut in queries.list_huts(db) if huts is None or hut.id in huts]
        access = card_access_list(db)  # after the huts: see the docstring above
        for hut in rows:
            hut_access = access.for_hut(hut)
            digest = hut_access.digest(keyring(hut.id), tags=tags)
            if not force and hut.allowlist_digest == digest:
                continue
            if since_ms is not None and since_ms < hut.allowlist_version:
                continue
            due.append(_Due(hut.allowlist_version, hut_access, digest))
    moved: set[str] = set()
    for item in due:
        hut_id = item.access.hut_id
        key = keyring(hut_id)
        now = clock()
        # A millisecond floor keeps versions growing even if the database was rebuilt;
        # it is the time of publishing (unless_published_since reads it).
        version = max(item.read_version + 1, _ms(now))
        allowlist = item.access.allowlist(key=key, version=version, issued=now, tags=tags)
        payload = allowlist.sealed(key)  # hashed and sealed before the hut's row is locked
        with sessions() as db, db.begin():
            locked = queries.lock_hut(db, hut_id)
            if locked is None:
                continue  # removed meanwhile
            if locked.allowlist_version != item.read_version:
                moved.add(hut_id)
                continue
            locked.allowlist_version = version
            locked.allowlist_digest = item.digest
            # Written before the publish: on SQLite this takes the write lock, so a second
            # publisher fails here (and retries) rather than after publishing a list.
            db.flush()
            info = publisher.publish(topics.allowlist(hut_id), payload, qos=1, retain=True)
            _wait_published(info)
        published.append(allowlist)
        _log_published(allowlist)
    return frozenset(moved)


def _log_published(allowlist: Allowlist) -> None:
    log.info(
        "published allowlist v%d for hut %s (%s)", allowlist.version, allowlist.hut,
        allowlist.counts(),
    )  # fmt: skip


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _wait_published(info: Any) -> None:
    wait = getattr(info, "wait_for_publish", None)
    if wait is None:
        return
    try:
        wait(_PUBLISH_WAIT_S)
    except (RuntimeError, ValueError) as exc:
        raise AllowlistNotPublishedError(f"allowlist not published: {exc}") from exc
    if not info.is_published():
        raise AllowlistNotPublishedError(f"no PUBACK within {_PUBLISH_WAIT_S} s")
