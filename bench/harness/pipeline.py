"""The batched pipeline: paho -> Mosquitto -> SQLAlchemy, the least an ingest that keeps
the product's promise can cost. It takes the events (QoS 1, manual ack), up to MAX_BATCH
at a time, inserts their rows into the product's ``events`` table with one executemany in
one transaction, commits, then acks the broker's messages and tells each hut how many of
its events are committed. No seal checked, no rule applied, no ledger row but the event's:
the product's ingest does all of that on top, so this is the floor it is held against.

Its acks are plain counts (``acked_count``), not the contract's sealed AckBatch: the load
only needs to know how many places in its window are free again.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from datetime import UTC, datetime
from typing import Any

from server.storage import make_engine
from toolhut.contract import TopicKind, Topics, new_id
from toolhut.mqtt import MqttEndpoint, make_client

from .event_rows import event_row, insert_events

MAX_BATCH = 500  # as the product's ingest worker takes them


def acked_count(_topic: str, payload: bytes) -> int:
    """How many events one of the pipeline's acks acks (the load's AckCounter)."""
    return int(payload)


class BatchedPipeline:
    def __init__(self, endpoint: MqttEndpoint, db_url: str, *, prefix: str) -> None:
        self._engine = make_engine(db_url)
        self._topics = Topics(prefix)
        self._inbox: deque[tuple[str, bytes, int, int]] = deque()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self.failure: str | None = None
        self._client = make_client(endpoint, client_id=f"bench-pipeline-{new_id()[:8]}")
        self._client.manual_ack_set(True)
        self._client.on_message = self._on_message
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_a: subscribed.set()
        self._client.connect(endpoint.host, endpoint.port)
        self._client.loop_start()
        self._client.subscribe(self._topics.all_huts(TopicKind.EVENTS), qos=1)
        if not subscribed.wait(10):
            raise RuntimeError("the pipeline could not subscribe")
        self._thread = threading.Thread(target=self._run, name="bench-pipeline", daemon=True)
        self._thread.start()

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        self._inbox.append((message.topic, bytes(message.payload), message.mid, message.qos))
        self._ready.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._inbox and not self._ready.wait(0.2):
                continue
            self._ready.clear()
            batch = [self._inbox.popleft() for _ in range(min(MAX_BATCH, len(self._inbox)))]
            if batch:
                try:
                    self._commit(batch)
                except Exception as exc:  # the bench reads it and stops
                    self.failure = repr(exc)
                    return

    def _commit(self, batch: list[tuple[str, bytes, int, int]]) -> None:
        now = datetime.now(UTC)
        rows = [event_row(payload, received_at=now) for _topic, payload, _mid, _qos in batch]
        with self._engine.begin() as conn:
            conn.execute(insert_events(), rows)
        per_hut: Counter[str] = Counter()
        for (_topic, _payload, mid, qos), row in zip(batch, rows, strict=True):
            self._client.ack(mid, qos)
            per_hut[row["hut_id"]] += 1
        for hut, n in per_hut.items():
            self._client.publish(self._topics.ack(hut), str(n).encode(), qos=1)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(10)
        self._client.disconnect()
        self._client.loop_stop()
        self._engine.dispose()
