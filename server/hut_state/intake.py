"""A status message off the wire, verified: its topic is a hut's status topic under our
prefix, and its payload is a Status sealed with that hut's key and naming that hut.
Anything else is logged (strangers decide how often, so at most ``REJECTION_LINES`` lines
a minute) and dropped: it never reaches the database."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import NamedTuple

from server.storage.hut_states import StatusReport
from toolhut.contract import ContractError, Status, TopicKind, Topics, parse_status
from toolhut.hut_keys import HutKeyring
from toolhut.rate_limited_log import RateLimitedLog
from toolhut.rate_limited_log import shown_topic as _shown

log = logging.getLogger(__name__)

REJECTION_LINES = 20  # a minute


class Received(NamedTuple):  # a tuple: paho's thread builds one per message
    topic: str
    payload: bytes


class StatusIntake:
    def __init__(
        self, topics: Topics, keyring: HutKeyring, *, seconds: Callable[[], float]
    ) -> None:
        self._topics = topics
        self._keyring = keyring
        self._rejections = RateLimitedLog(log, limit=REJECTION_LINES, clock=seconds)

    def read(self, messages: Iterable[Received], *, received_at: datetime) -> list[StatusReport]:
        """The verified statuses among ``messages``, in their order."""
        reports: list[StatusReport] = []
        for message in messages:
            try:
                reports.append(StatusReport(self._parse(message), received_at))
            except ContractError as exc:
                self.reject(message.topic, str(exc))
        return reports

    def reject(self, topic: str, reason: str) -> None:
        self._rejections.log("ignored status on %s: %s", _shown(topic), reason)

    def flush(self) -> None:
        self._rejections.flush()

    def _parse(self, message: Received) -> Status:
        hut, kind = self._topics.parse(message.topic)
        if kind is not TopicKind.STATUS:
            raise ContractError(f"not a status topic: {message.topic!r}")
        if not message.payload:
            raise ContractError("empty payload (a retained status cleared)")
        return parse_status(message.payload, key=self._keyring(hut))
