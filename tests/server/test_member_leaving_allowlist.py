"""A member who leaves opens nothing: the huts' list, republished at once by the commit,
no longer holds their card (the hut answers it as unknown, offline too)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from server.domain.actors import SYSTEM
from server.ingest import IngestWorker
from server.records import members
from server.storage.audit import Stamp
from tests.support.gateway_link import FakeGatewayLink
from toolhut.contract import CardState

from .conftest import T0
from .test_allowlists import LI, PROMPT_S, ZHANG, _member_of, _newer, link, worker_for  # noqa: F401


def test_a_member_who_left_is_not_on_the_allowlist(
    worker_for: Callable[[float], IngestWorker],  # noqa: F811
    link: FakeGatewayLink,  # noqa: F811
    sessions: sessionmaker[Session],
) -> None:
    worker_for(3600.0)  # no periodic check: only the commit can publish
    key = link.keyring("demo-hut")
    before = _newer(link, 0)
    assert before.state_of(LI, key=key) is CardState.ACTIVE
    li = _member_of(sessions, LI)
    with sessions.begin() as db:
        members.leave(db, li, reason="搬家", stamp=Stamp(SYSTEM, T0))
    after = _newer(link, before.version, timeout=PROMPT_S)
    assert after.state_of(LI, key=key) is None  # unknown: refused
    assert after.state_of(ZHANG, key=key) is CardState.ACTIVE
