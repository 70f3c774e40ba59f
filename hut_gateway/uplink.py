"""The gateway's side of the MQTT wire: publishes the outbox, takes acks, commands and the
allowlist back. Keeps reconnecting by itself; never blocks the hut on the network."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from hut_gateway.outbox import Outbox, Pending
from hut_gateway.settings import GatewaySettings
from toolhut.contract import (
    AckBatch,
    Command,
    ContractError,
    Status,
    TopicKind,
    Topics,
    offline_status,
    parse_ack,
    parse_command,
)
from toolhut.mqtt import MqttEndpoint, connack_ok, make_client

log = logging.getLogger(__name__)


class Uplink:
    def __init__(
        self,
        settings: GatewaySettings,
        *,
        outbox: Outbox,
        on_ack: Callable[[AckBatch], None],
        on_command: Callable[[Command], None],
        on_allowlist: Callable[[bytes], None],
        status: Callable[[], Status],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hut = settings.hut
        self._endpoint = MqttEndpoint.parse(settings.mqtt_url)
        self._topics = Topics(settings.topic_prefix)
        self._outbox = outbox
        self._on_ack = on_ack
        self._on_command = on_command
        self._on_allowlist = on_allowlist
        self._status = status
        self._monotonic = monotonic
        self._resend_after_s = settings.resend_after_s
        self._connected = threading.Event()
        self._stopping = False
        self._sent_at: dict[str, float] = {}
        self._sent_lock = threading.Lock()
        self.rejected_messages = 0
        self._client = make_client(self._endpoint, client_id=f"toolhut-gateway-{self._hut}")
        self._client.max_inflight_messages_set(200)
        self._client.will_set(
            self._topics.status(self._hut), offline_status(self._hut).to_bytes(), qos=1, retain=True
        )
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        self._client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        if self.connected:
            # A clean disconnect does not fire the last will: say "offline" ourselves.
            info = self._client.publish(
                self._topics.status(self._hut),
                offline_status(self._hut).to_bytes(),
                qos=1,
                retain=True,
            )
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, item: Pending) -> None:
        """Send one outbox entry if the broker is there; the outbox keeps it either way."""
        if not self.connected:
            return
        with self._sent_lock:
            self._sent_at[item.id] = self._monotonic()
        self._client.publish(self._topics.events(self._hut), item.payload, qos=1)

    def publish_status(self) -> None:
        if self.connected:
            self._client.publish(
                self._topics.status(self._hut), self._status().to_bytes(), qos=1, retain=True
            )

    def resend_stale(self) -> int:
        """Publish again what the server has not acked for a while (it may have been down
        while the broker was up). Duplicates are harmless: the server applies an id once."""
        if not self.connected:
            return 0
        now = self._monotonic()
        stale = []
        for item in self._outbox.pending():
            with self._sent_lock:
                sent = self._sent_at.get(item.id)
            if sent is None or now - sent >= self._resend_after_s:
                stale.append(item)
        for item in stale:
            self.publish(item)
        return len(stale)

    def forget(self, ids: list[str]) -> None:
        with self._sent_lock:
            for event_id in ids:
                self._sent_at.pop(event_id, None)

    def _handle_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if not connack_ok(reason):
            log.error("broker %s refused the connection: %s", self._endpoint.url, reason)
            return
        log.info("connected to broker %s", self._endpoint.url)
        self._connected.set()
        for kind in (TopicKind.ACK, TopicKind.CMD, TopicKind.ALLOWLIST):
            client.subscribe(self._topics.for_hut(self._hut, kind), qos=1)
        self.publish_status()
        for item in self._outbox.pending():
            self.publish(item)

    def _handle_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self._connected.is_set() and not self._stopping:
            log.warning(
                "lost the broker %s (%s); events wait in the outbox", self._endpoint.url, reason
            )
        self._connected.clear()

    def _handle_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            hut, kind = self._topics.parse(message.topic)
            if hut != self._hut:
                raise ContractError(f"message for hut {hut!r} reached hut {self._hut!r}")
            if kind is TopicKind.ACK:
                batch = parse_ack(message.payload)
                if batch.hut != self._hut:
                    raise ContractError(f"ack names hut {batch.hut!r}")
                self._on_ack(batch)
            elif kind is TopicKind.CMD:
                command = parse_command(message.payload)
                if command.hut != self._hut:
                    raise ContractError(f"command names hut {command.hut!r}")
                self._on_command(command)
            elif kind is TopicKind.ALLOWLIST:
                self._on_allowlist(message.payload)
        except ContractError as exc:
            self.rejected_messages += 1
            log.warning("rejected message on %s: %s", message.topic, exc)
        except Exception:  # a bug in a handler must not kill paho's network thread
            self.rejected_messages += 1
            log.exception("error handling message on %s", message.topic)
