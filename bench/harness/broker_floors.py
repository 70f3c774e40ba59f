"""What the broker alone can do, on the same machine and in the same run as the product:

- its QoS-1 rate, a plain paho publisher -> Mosquitto -> a plain paho subscriber, paho's
  default in-flight window, the product's payloads (the floor of ingest and outbox drain);
- its request/response round trip, QoS 1 both ways (what any reply through it costs).
"""

from __future__ import annotations

import threading
import time

from toolhut.contract import TopicKind, Topics, new_id
from toolhut.mqtt import MqttEndpoint, make_client

from .child import Child
from .load import CountingSubscriber, Pool, drive

FLOOR_PREFIX = "bench-floor"
QOS1_RATE = (
    "broker QoS-1 rate, paho publisher → Mosquitto → paho subscriber, paho's default "
    "in-flight window"
)  # the floor's name in a report
WINDOW = 1000  # publishes not yet acked by the broker, as the throughput loads keep


def qos1_rate(endpoint: MqttEndpoint, pool: Pool, *, seconds: float | None = None) -> float:
    """Messages per second from the first publish to the last arrival at the subscriber,
    the publisher in a process of its own (harness.load's, with no consumer acks); the
    whole pool, or what ``seconds`` of publishing take of it."""
    limit = float("inf") if seconds is None else seconds
    topics = Topics(FLOOR_PREFIX)
    subscriber = CountingSubscriber(endpoint, topics.all_huts(TopicKind.EVENTS))
    try:
        child = Child(
            lambda: drive(
                endpoint, pool, prefix=FLOOR_PREFIX, seconds=limit, window=WINDOW, acks=None
            ),
            name="bench-floor-publisher",
        )
        load = child.result(timeout=(seconds or 600) + 180)
        if not subscriber.wait_for(load.published, 60):
            raise RuntimeError(
                f"only {len(subscriber.arrivals)} of {load.published} messages reached the "
                "subscriber"
            )
        return load.published / (subscriber.arrivals[load.published - 1] - load.started)
    finally:
        subscriber.stop()


def request_response(endpoint: MqttEndpoint, n: int, *, size: int = 200) -> list[float]:
    """Milliseconds per request -> reply through the broker, QoS 1 both ways, one at a time."""
    got = threading.Event()
    topic = f"bench-rr/{new_id()[:12]}"
    responder = make_client(endpoint, client_id=f"bench-resp-{new_id()[:8]}")
    responder.on_message = lambda c, _u, m: c.publish(f"{topic}/res", m.payload, qos=1)
    requester = make_client(endpoint, client_id=f"bench-req-{new_id()[:8]}")
    requester.on_message = lambda _c, _u, _m: got.set()
    subscribed = threading.Semaphore(0)
    for client, sub in ((responder, f"{topic}/req"), (requester, f"{topic}/res")):
        client.on_subscribe = lambda *_a: subscribed.release()
        client.connect(endpoint.host, endpoint.port)
        client.loop_start()
        client.subscribe(sub, qos=1)
    try:
        for _ in range(2):
            if not subscribed.acquire(timeout=10):
                raise RuntimeError("request/response clients could not subscribe")
        samples = []
        payload = b"x" * size
        for _ in range(n):
            got.clear()
            start = time.perf_counter()
            requester.publish(f"{topic}/req", payload, qos=1)
            if not got.wait(5):
                raise RuntimeError("broker round trip timed out")
            samples.append((time.perf_counter() - start) * 1000)
        return samples
    finally:
        for client in (responder, requester):
            client.disconnect()
            client.loop_stop()


def wait_retained(endpoint: MqttEndpoint, topic_filter: str, count: int, timeout: float) -> None:
    """Until ``count`` distinct topics under ``topic_filter`` hold a retained message (a
    server's allowlists, say: the evidence that its start-up publishing is done)."""
    seen: set[str] = set()
    enough = threading.Event()

    def on_message(_c: object, _u: object, message: object) -> None:
        seen.add(message.topic)  # type: ignore[attr-defined]
        if len(seen) >= count:
            enough.set()

    client = make_client(endpoint, client_id=f"bench-watch-{new_id()[:8]}")
    client.on_message = on_message
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    client.subscribe(topic_filter, qos=1)
    try:
        deadline = time.monotonic() + timeout
        # Retained messages already there come with the subscription, later ones live.
        while not enough.wait(0.5):
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(seen)} of {count} retained on {topic_filter}")
    finally:
        client.disconnect()
        client.loop_stop()
