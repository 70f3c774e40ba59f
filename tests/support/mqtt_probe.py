"""A paho client for asking a real broker what one user may do: connect, subscribe,
publish (waiting for the broker's PUBACK) and read what arrives, in arrival order.

Mosquitto drops a publish or a delivery the ACL forbids without telling anyone (MQTT 3.1.1),
so "it did not arrive" is proved with a marker: a message the receiver may get, sent after
the forbidden one along a path the broker handles in order; whatever arrived before the
marker is all that ever will (``until``)."""

from __future__ import annotations

import queue
import ssl
import threading
import uuid
from dataclasses import dataclass, replace
from typing import Any

from toolhut.mqtt import MqttEndpoint, connack_ok, make_client


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


class Probe:
    def __init__(
        self, endpoint: MqttEndpoint, *, user: str | None = None, password: str | None = None
    ) -> None:
        if user is not None:
            endpoint = replace(endpoint, username=user, password=password)
        self.client = make_client(endpoint, client_id=f"probe-{uuid.uuid4().hex[:12]}")
        self.client.reconnect_on_failure = False
        self._endpoint = endpoint
        self._connack: queue.Queue[bool] = queue.Queue()
        self._subacks: dict[int, list[Any]] = {}
        self._subacked = threading.Condition()
        self.messages: queue.Queue[Received] = queue.Queue()
        self.client.on_connect = lambda c, u, f, reason, p: self._connack.put(connack_ok(reason))
        # Closed before any CONNACK (a TLS peer that refused our certificate): refused.
        self.client.on_disconnect = lambda c, u, f, reason, p: self._connack.put(False)
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda c, u, m: self.messages.put(
            Received(m.topic, bytes(m.payload), bool(m.retain))
        )

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        with self._subacked:
            self._subacks[mid] = list(codes)
            self._subacked.notify_all()

    def connect(self, timeout: float = 10.0) -> bool:
        """True if the broker accepted this client; False if it refused it (CONNACK
        failure, or the TLS handshake failed, or it closed the connection)."""
        try:
            self.client.connect(self._endpoint.host, self._endpoint.port, keepalive=30)
        except (ssl.SSLError, ConnectionError):
            return False
        self.client.loop_start()
        try:
            return self._connack.get(timeout=timeout)
        except queue.Empty as exc:
            raise AssertionError(f"no CONNACK from {self._endpoint.url} in {timeout}s") from exc

    def subscribe(self, *topics: str, timeout: float = 10.0) -> list[Any]:
        """Subscribe to all ``topics`` in one SUBSCRIBE; the broker's reason codes."""
        result, mid = self.client.subscribe([(topic, 1) for topic in topics])
        assert result == 0, f"subscribe failed to send: {result}"
        with self._subacked:
            if not self._subacked.wait_for(lambda: mid in self._subacks, timeout):
                raise AssertionError(f"no SUBACK for {topics}")
            return self._subacks.pop(mid)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """QoS 1, back when the broker has acknowledged it (taken, not necessarily allowed)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), f"no PUBACK for {topic}"

    def until(self, marker: bytes, *, timeout: float = 10.0) -> list[Received]:
        """Every message that arrived before the one whose payload is ``marker``."""
        before = []
        while True:
            try:
                message = self.messages.get(timeout=timeout)
            except queue.Empty as exc:
                raise AssertionError(
                    f"marker {marker!r} did not arrive in {timeout}s; before it: {before}"
                ) from exc
            if message.payload == marker:
                return before
            before.append(message)

    def expect(self, topic: str, *, timeout: float = 10.0) -> Received:
        """The next message on ``topic`` (others before it are dropped)."""
        while True:
            try:
                message = self.messages.get(timeout=timeout)
            except queue.Empty as exc:
                raise AssertionError(f"nothing arrived on {topic} in {timeout}s") from exc
            if message.topic == topic:
                return message

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def marker() -> bytes:
    return f"marker-{uuid.uuid4().hex}".encode()
