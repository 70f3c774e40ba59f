"""The publishing side of the throughput benches: one paho client publishes a pool of
prebuilt payloads at QoS 1 for a set time, with at most ``window`` of them not yet
acknowledged, as gateways drain through a window paced by acks.

The same client and settings serve the floor and the product, so the only difference
between them is what is measured:

- the broker floor: the broker's PUBACK frees a place in the window (``acks=None``); the
  rate is counted at a plain subscriber;
- the product or the batched pipeline: an ack message from the consumer, counted by
  ``acks(topic, payload)``, frees as many places as it acks events.

paho's own in-flight window stays at its default (20), for both: the issue's plain
publisher -> subscriber rate is taken with it, and a larger one (the old bench's 1,000)
halves the broker's rate on this machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from toolhut.contract import TopicKind, Topics, new_id
from toolhut.mqtt import MqttEndpoint, make_client

AckCounter = Callable[[str, bytes], int]  # (topic, payload) -> events it acks
Pool = Sequence[tuple[str, bytes]]  # (hut, payload) in publishing order

_DRAIN_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class LoadResult:
    published: int
    acked: int
    started: float  # time.perf_counter(): CLOCK_MONOTONIC, the same in every process
    last_ack: float

    @property
    def elapsed(self) -> float:
        return self.last_ack - self.started

    @property
    def rate(self) -> float:
        return self.acked / self.elapsed if self.elapsed > 0 else 0.0


def drive(
    endpoint: MqttEndpoint,
    pool: Pool,
    *,
    prefix: str,
    seconds: float,
    window: int,
    acks: AckCounter | None,
) -> LoadResult:
    """Publish ``pool`` in order for ``seconds`` (or until it runs out), then wait until
    everything published is acked. Meant for a process of its own (harness.child)."""
    topics = Topics(prefix)
    client = make_client(endpoint, client_id=f"bench-load-{new_id()[:8]}")
    room = threading.Semaphore(window)
    lock = threading.Lock()
    counts = {"acked": 0}
    last = [0.0]
    everything_acked = threading.Event()
    published = [0]
    publishing = [True]

    def freed(n: int) -> None:
        for _ in range(n):
            room.release()
        with lock:
            counts["acked"] += n
            last[0] = time.perf_counter()
            if not publishing[0] and counts["acked"] >= published[0]:
                everything_acked.set()

    if acks is None:
        client.on_publish = lambda _c, _u, _mid, _rc, _p: freed(1)
    else:
        counter = acks
        client.on_message = lambda _c, _u, m: freed(counter(m.topic, bytes(m.payload)))
    subscribed = threading.Event()
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    try:
        if acks is not None:
            client.subscribe(topics.all_huts(TopicKind.ACK), qos=1)
            if not subscribed.wait(10):
                raise RuntimeError("the load could not subscribe to the acks")
        started = time.perf_counter()
        deadline = started + seconds
        for hut, payload in pool:
            if time.perf_counter() >= deadline:
                break
            if not room.acquire(timeout=_DRAIN_TIMEOUT_S):
                raise RuntimeError(f"no ack for {_DRAIN_TIMEOUT_S} s: the consumer stalled")
            client.publish(topics.events(hut), payload, qos=1)
            published[0] += 1
        with lock:
            publishing[0] = False
            if counts["acked"] >= published[0]:
                everything_acked.set()
        if not everything_acked.wait(_DRAIN_TIMEOUT_S):
            raise RuntimeError(f"only {counts['acked']} of {published[0]} acked")
        return LoadResult(published[0], counts["acked"], started, last[0])
    finally:
        client.disconnect()
        client.loop_stop()


class CountingSubscriber:
    """A plain QoS-1 subscriber that notes when each message arrives: the broker floor's
    far end (``arrivals``: perf_counter() times)."""

    def __init__(self, endpoint: MqttEndpoint, topic: str) -> None:
        self.arrivals: list[float] = []
        self._want = [2**62]
        self._reached = threading.Event()
        self.client = make_client(endpoint, client_id=f"bench-sub-{new_id()[:8]}")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.connect(endpoint.host, endpoint.port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        if not subscribed.wait(10):
            raise RuntimeError(f"could not subscribe to {topic}")

    def _on_message(self, _client: Any, _userdata: Any, _message: Any) -> None:
        self.arrivals.append(time.perf_counter())
        if len(self.arrivals) >= self._want[0]:
            self._reached.set()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Until ``count`` messages have arrived (False after ``timeout`` s)."""
        self._want[0] = count
        if len(self.arrivals) >= count:
            return True
        return self._reached.wait(timeout)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
