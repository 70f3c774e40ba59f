"""The raw tap: the least a scan's answer can cost on a database, the floor under
scan -> feedback. A request goes through the broker (QoS 1); the responder looks the
card up, inserts the event's row, commits and publishes the reply (QoS 1); the requester
times it. Plain SQLAlchemy Core on the product's schema and engine settings (SQLite in
WAL with synchronous=NORMAL, as the server opens it), no seal checked, no rule applied.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from server.storage import make_engine
from server.storage.models import Card
from toolhut.contract import ScanEvent, new_id
from toolhut.hut_keys import HutKey
from toolhut.mqtt import MqttEndpoint, make_client

from .event_rows import event_row, insert_events

CARDS = Card.__table__
REPLY = b"x" * 160  # about an AckBatch with one ack and its feedback
_SEQ_BASE = 10**12  # the tap's rows stay clear of the product's sequence numbers


def raw_tap(
    endpoint: MqttEndpoint,
    db_url: str,
    n: int,
    *,
    key: HutKey,
    card: str,
    tag: str,
    pause: float = 0.0,
) -> list[float]:
    """Milliseconds per request -> reply for ``n`` scans of ``tag`` with ``card``, each a
    real sealed ScanEvent of the hut of ``key`` (the product's payload); ``pause``
    seconds between a reply and the next request."""
    engine = make_engine(db_url)
    topic = f"bench-tap/{new_id()[:12]}"
    got = threading.Event()
    failures: list[str] = []

    def answer(client: Any, _userdata: Any, message: Any) -> None:
        try:
            row = event_row(message.payload, received_at=datetime.now(UTC))
            with engine.begin() as conn:
                member = conn.execute(
                    select(CARDS.c.member_id).where(CARDS.c.uid == row["payload"]["card"])
                ).scalar()
                if member is None:
                    raise RuntimeError("the tap's card is not in the database")
                conn.execute(insert_events(), row)
        except Exception as exc:  # told to the requester, which stops the run
            failures.append(repr(exc))
        client.publish(f"{topic}/res", REPLY, qos=1)

    responder = make_client(endpoint, client_id=f"bench-tap-resp-{new_id()[:8]}")
    responder.on_message = answer
    requester = make_client(endpoint, client_id=f"bench-tap-req-{new_id()[:8]}")
    requester.on_message = lambda _c, _u, _m: got.set()
    subscribed = threading.Semaphore(0)
    for client, sub in ((responder, f"{topic}/req"), (requester, f"{topic}/res")):
        client.on_subscribe = lambda *_a: subscribed.release()
        client.connect(endpoint.host, endpoint.port)
        client.loop_start()
        client.subscribe(sub, qos=1)
    requests = [
        ScanEvent(
            id=new_id(), hut=key.hut, seq=_SEQ_BASE + i, ts=datetime.now(UTC), session="tap",
            text=tag, card=card,
        ).sealed(key)
        for i in range(n)
    ]  # fmt: skip
    try:
        for _ in range(2):
            if not subscribed.acquire(timeout=10):
                raise RuntimeError("raw tap clients could not subscribe")
        samples = []
        for payload in requests:
            got.clear()
            start = time.perf_counter()
            requester.publish(f"{topic}/req", payload, qos=1)
            if not got.wait(10):
                raise RuntimeError("raw tap timed out")
            samples.append((time.perf_counter() - start) * 1000)
            if failures:
                raise RuntimeError(f"raw tap failed: {failures[0]}")
            if pause:
                time.sleep(pause)  # a resident between two scans: every process idles
        return samples
    finally:
        for client in (responder, requester):
            client.disconnect()
            client.loop_stop()
        engine.dispose()
