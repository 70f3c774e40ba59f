"""The huts' allowlists: built from the cards and their members, published retained, and
published again only when what they say changed.

What a list says is summed up in a digest of (card, access) pairs, keyed with the hut's
card key and stored on each hut's row with the version: a check finds a hut whose digest
differs from the cards' now and publishes it, and a second process checking the same
moment finds the new digest and publishes nothing. The salt is new with each list
published, never with each check. Card hashes are keyed with the hut's card key, and each
list is sealed with the hut's key: only this server's lists open a hut's door.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from server.clock import Clock
from server.domain import CardAccess, card_access
from server.storage import queries
from toolhut.contract import Allowlist, Topics
from toolhut.hut_keys import HutKey, HutKeyring

log = logging.getLogger(__name__)

_PUBLISH_WAIT_S = 5.0


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int = ..., retain: bool = ...) -> Any: ...


class AllowlistNotPublishedError(RuntimeError):
    """The broker did not confirm an allowlist; its transaction is rolled back."""


@dataclass(frozen=True, slots=True)
class CardAccessList:
    """Every card's access, by uid, and the text a digest sums up (the same for every hut:
    built once, keyed per hut)."""

    entries: tuple[tuple[str, CardAccess], ...]
    text: bytes

    @classmethod
    def of(cls, entries: tuple[tuple[str, CardAccess], ...]) -> CardAccessList:
        return cls(entries, "\n".join(f"{uid}:{access.value}" for uid, access in entries).encode())

    def digest(self, key: HutKey) -> str:
        """What the list of ``key``'s hut says, keyed so the stored digest tells nothing."""
        return hmac.new(key.card_key, self.text, hashlib.sha256).hexdigest()

    def allowlist(self, *, key: HutKey, version: int, issued: datetime) -> Allowlist:
        salt = secrets.token_hex(8)
        hashes: defaultdict[CardAccess, list[str]] = defaultdict(list)
        for uid, access in self.entries:
            hashes[access].append(key.card_hash(salt, uid))
        return Allowlist(
            hut=key.hut,
            version=version,
            issued=issued,
            salt=salt,
            cards=hashes[CardAccess.ACTIVE],
            suspended=hashes[CardAccess.SUSPENDED],
            lost=hashes[CardAccess.LOST],
        )


def card_access_list(db: Session) -> CardAccessList:
    return CardAccessList.of(
        tuple(
            (uid, card_access(card=state, member=status))
            for uid, state, status in queries.card_states(db)
        )
    )


def publish_allowlists(
    sessions: sessionmaker[Session],
    publisher: Publisher,
    *,
    topics: Topics,
    keyring: HutKeyring,
    clock: Clock,
    force: bool = True,
) -> list[Allowlist]:
    """Publish the allowlist (retained) of every hut, or with ``force=False`` only of the
    huts whose last published list says something else than the cards say now.

    Each list is published, and its PUBACK awaited, while the huts' rows are locked: a
    second server publishing at the same time waits, then reads the cards after the first
    committed, so the retained list never goes back to an older version or content."""
    if not force:
        with sessions() as db:
            access = card_access_list(db)
            if all(
                hut.allowlist_digest == access.digest(keyring(hut.id))
                for hut in queries.list_huts(db)
            ):
                return []
    now = clock()
    lists = []
    with sessions() as db, db.begin():
        huts = queries.lock_huts(db)
        access = card_access_list(db)  # after the locks: see the comment above
        for hut in huts:
            key = keyring(hut.id)
            digest = access.digest(key)
            if not force and hut.allowlist_digest == digest:
                continue
            # A millisecond floor keeps versions growing even if the database was rebuilt.
            version = queries.next_allowlist_version(hut, at_least=int(now.timestamp() * 1000))
            hut.allowlist_digest = digest
            # Written before the publish: on SQLite this takes the write lock, so a second
            # publisher fails here (and retries) rather than after publishing a list.
            db.flush()
            allowlist = access.allowlist(key=key, version=version, issued=now)
            info = publisher.publish(
                topics.allowlist(hut.id), allowlist.sealed(key), qos=1, retain=True
            )
            _wait_published(info)
            lists.append(allowlist)
            log.info(
                "published allowlist v%d for hut %s (%d cards, %d suspended, %d lost)",
                version,
                hut.id,
                len(allowlist.cards),
                len(allowlist.suspended or ()),
                len(allowlist.lost or ()),
            )
    return lists


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
