"""The cards this hut may open for, kept on disk so the door works with the network down.

The server sends keyed hashes only; the gateway never stores a card UID. Besides the
cards that open the door, the list names suspended and lost ones, and those of members who
may open other huts only (by short tags, ``elsewhere_tags``, or by hashes from a server
older than those), so the hut can say why it stays shut, offline too. It carries the
hut's opening hours, and the cards (staff) that open outside them.

Only a list sealed by the server (with this hut's key) is taken, whatever its version, and
the file holds the sealed payload, checked again when it is loaded: a list planted in the
file opens nothing.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path

from hut_gateway.data_dir import prepare, tighten
from toolhut.contract import Allowlist, CardState, ContractError, parse_allowlist
from toolhut.hut_keys import HutKey, write_private

log = logging.getLogger(__name__)


class AllowlistStore:
    def __init__(self, path: Path, *, key: HutKey) -> None:
        self._path = path
        self._key = key
        self._hut = key.hut
        self._lock = threading.Lock()
        self._current: Allowlist | None = None
        self._states: dict[str, CardState] = {}
        self._anytime: frozenset[str] = frozenset()
        self._elsewhere_tags: frozenset[bytes] = frozenset()
        self._load()

    @property
    def version(self) -> int | None:
        return self._current.version if self._current else None

    def state_of(self, card: str) -> CardState | None:
        """The card's state in the current list; None: not listed, or no list yet."""
        with self._lock:
            current, states, tags = self._current, self._states, self._elsewhere_tags
        if current is None:
            return None
        state = states.get(self._key.card_hash(current.salt, card))
        if state is None and tags and self._key.card_tag(current.salt, card) in tags:
            return CardState.ELSEWHERE  # a card of another hut, named by its short tag
        return state

    def admits(self, card: str) -> bool:
        """Whether the card may open the door at all (opening hours aside)."""
        return self.state_of(card) is CardState.ACTIVE

    def closed_for(self, card: str, *, at: datetime) -> list[str] | None:
        """If the opening hours keep ``card`` out at ``at`` (the hut closed then, and the
        card not one that opens anytime): the windows of that day, for the display (empty:
        closed all day). None: the hours let it in."""
        with self._lock:
            current, anytime = self._current, self._anytime
        if current is None or current.hours is None or current.hours.is_open(at):
            return None
        if self._key.card_hash(current.salt, card) in anytime:
            return None
        return current.hours.windows_on(at)

    def offer(self, payload: bytes) -> bool:
        """Take a newer allowlist from the wire; True if it replaced the current one.

        An unsealed, forged or malformed one, or one for another hut, raises ContractError
        and changes nothing; an older or the same version (a retained copy seen again) is
        ignored."""
        try:
            allowlist = parse_allowlist(payload, key=self._key)
        except ContractError as exc:
            raise ContractError(
                f"allowlist refused, keeping version {self.version}: {exc}"
            ) from exc
        if self.version is not None and allowlist.version <= self.version:
            if allowlist.version < self.version:
                log.info("older allowlist %d ignored (have %d)", allowlist.version, self.version)
            return False
        self._save(payload)
        self._set(allowlist)
        log.info("allowlist version %d: %s", allowlist.version, allowlist.counts())
        return True

    def _set(self, allowlist: Allowlist) -> None:
        with self._lock:
            self._current, self._states = allowlist, allowlist.states()
            self._anytime = frozenset(allowlist.anytime or ())
            self._elsewhere_tags = allowlist.elsewhere_tag_set()

    def _load(self) -> None:
        try:
            payload = self._path.read_bytes()
        except FileNotFoundError:
            return
        tighten(self._path)
        try:
            allowlist = parse_allowlist(payload, key=self._key)
        except ContractError as exc:
            log.error(
                "stored allowlist %s is not trusted, waiting for a new one: %s", self._path, exc
            )
            return
        self._set(allowlist)

    def _save(self, payload: bytes) -> None:
        prepare(self._path.parent)
        write_private(self._path, payload)
