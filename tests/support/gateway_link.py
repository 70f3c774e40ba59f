"""The gateway's side of the MQTT wire, played by a plain paho client (the real broker in
between) holding every hut's key, for tests of the server's ingest."""

from __future__ import annotations

import queue
from typing import Any

from toolhut.contract import (
    AckBatch,
    Allowlist,
    Command,
    TopicKind,
    Topics,
    new_id,
    parse_ack,
    parse_allowlist,
    parse_command,
)
from toolhut.hut_keys import HutKeyring
from toolhut.mqtt import MqttEndpoint, connack_ok, make_client

TIMEOUT = 10.0


class FakeGatewayLink:
    """A plain paho client on the gateway's side of the wire (the real broker in between)."""

    def __init__(self, mqtt_url: str, topics: Topics, keyring: HutKeyring) -> None:
        self.topics = topics
        self.keyring = keyring
        self.acks: queue.Queue[AckBatch] = queue.Queue()
        self.allowlists: queue.Queue[Allowlist] = queue.Queue()
        self.commands: queue.Queue[Command] = queue.Queue()
        self._subscribed = queue.Queue[int]()
        endpoint = MqttEndpoint.parse(mqtt_url)
        self.client = make_client(endpoint, client_id=f"test-gw-{new_id()[:8]}")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.put(1)
        self.client.on_message = self._on_message
        self.client.connect(endpoint.host, endpoint.port)
        self.client.loop_start()
        self._subscribed.get(timeout=TIMEOUT)

    def _on_connect(self, client: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        assert connack_ok(reason)
        client.subscribe(
            [
                (self.topics.all_huts(TopicKind.ACK), 1),
                (self.topics.all_huts(TopicKind.ALLOWLIST), 1),
                (self.topics.all_huts(TopicKind.CMD), 1),
            ]
        )

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        hut, kind = self.topics.parse(message.topic)
        if not message.payload:  # a retained message cleared
            return
        key = self.keyring(hut)
        if kind is TopicKind.ACK:
            self.acks.put(parse_ack(message.payload, key=key))
        elif kind is TopicKind.ALLOWLIST:
            self.allowlists.put(parse_allowlist(message.payload, key=key))
        elif kind is TopicKind.CMD:
            self.commands.put(parse_command(message.payload, key=key))

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(TIMEOUT)

    def send(self, event: Any, *, topic_hut: str | None = None) -> None:
        """Publish ``event`` sealed as its gateway would, or on ``topic_hut``'s topic with
        that hut's key (a gateway that names another hut inside)."""
        hut = topic_hut or event.hut
        self.publish(
            self.topics.events(hut), self.keyring(hut).seal(TopicKind.EVENTS, event.to_bytes())
        )

    def next_ack(self) -> AckBatch:
        return self.acks.get(timeout=TIMEOUT)

    def next_command(self, action: str) -> Command:
        """The next command of ``action`` (others, such as the server's syncs, skipped)."""
        while True:
            command = self.commands.get(timeout=TIMEOUT)
            if command.action == action:
                return command

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def clear_retained(mqtt_url: str, topic: str) -> None:
    endpoint = MqttEndpoint.parse(mqtt_url)
    client = make_client(endpoint, client_id=f"test-clean-{new_id()[:8]}")
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    client.publish(topic, b"", qos=1, retain=True).wait_for_publish(TIMEOUT)
    client.disconnect()
    client.loop_stop()
