"""The gateway's side of the MQTT wire: publishes the outbox, takes acks, commands and the
allowlist back. Keeps reconnecting by itself; never blocks the hut on the network.

The outbox drains in sequence order through a window: at most ``drain_window`` events are
out (published, not yet acked by the server) at a time, and each ack lets the next ones
go. Pacing by the server's acks keeps a long backlog from overflowing the broker's queue
for a slower subscriber, which Mosquitto would drop without a word.

Everything it publishes is sealed with the hut's key (events are sealed in the outbox), and
it takes only what the server sealed: an ack, command or allowlist that is unsealed,
forged or another hut's is refused (counted in ``rejected_messages``, one log line why),
and so is a retained command, however well sealed: commands are never retained.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hut_gateway.data_dir import install_id
from hut_gateway.homeassistant import discovery_messages
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
from toolhut.hut_keys import HutCredentials
from toolhut.mqtt import connack_ok, gateway_client_id, make_client
from toolhut.rate_limited_log import RateLimitedLog
from toolhut.rate_limited_log import shown_topic as _shown

log = logging.getLogger(__name__)

TICK_S = 1.0
REJECTION_LINES = 20  # per minute; the rest are counted in one "suppressed" line
_READ_BATCH = 500  # outbox rows per SELECT while draining


class Backoff:
    """Exponential backoff with jitter, so a fleet of huts does not reconnect in step after
    the broker comes back: attempt n waits uniform(min, min(max, min * 2**n))."""

    def __init__(self, *, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self._min_s = min_s
        self._max_s = max(min_s, max_s)
        self._rng = rng or random.Random()
        self._attempt = 0

    def next(self) -> float:
        ceiling = min(self._max_s, self._min_s * 2 ** min(self._attempt, 30))
        self._attempt += 1
        return self._rng.uniform(self._min_s, ceiling)

    def reset(self) -> None:
        self._attempt = 0


# An event still unacked is published again after resend_after_s, then after twice that,
# and so on up to this many times it: a server that is slow, not away, is not sent every
# event of every hut's window again every half minute (in a district of 500 huts whose
# servers fell behind, resends were 6.5 times the events themselves).
RESEND_BACKOFF_MAX = 8


@dataclass(frozen=True, slots=True)
class _Out:
    item: Pending
    sent_at: float
    sends: int = 1  # publishes of it on this connection

    def stale(self, now: float, *, after_s: float) -> bool:
        return now - self.sent_at >= after_s * min(2 ** (self.sends - 1), RESEND_BACKOFF_MAX)


class Uplink:
    def __init__(
        self,
        settings: GatewaySettings,
        *,
        credentials: HutCredentials,
        outbox: Outbox,
        on_ack: Callable[[AckBatch], None],
        on_command: Callable[[Command], None],
        on_allowlist: Callable[[bytes], None],
        status: Callable[[], Status],
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._hut = settings.hut
        self._key = credentials.hut_key
        self._settings = settings
        self._endpoint = settings.endpoint(credentials)
        self._topics = Topics(settings.topic_prefix)
        self._outbox = outbox
        self._on_ack = on_ack
        self._on_command = on_command
        self._on_allowlist = on_allowlist
        self._status = status
        self._monotonic = monotonic
        self._started = monotonic()
        self._resend_after_s = settings.resend_after_s
        self._window = settings.drain_window
        self._backoff = Backoff(
            min_s=settings.reconnect_min_s, max_s=settings.reconnect_max_s, rng=rng
        )
        self._connected = threading.Event()
        self._stopping = threading.Event()
        # Events out on this connection, oldest first, and the highest seq published on it.
        self._out: dict[str, _Out] = {}
        self._cursor = 0
        self._lock = threading.RLock()
        self._next_status = 0.0
        self._status_depth: int | None = None
        # The controller firmware the Home Assistant config last announced, and whether it
        # was announced on this connection at all.
        self._announced: tuple[bool, str | None] = (False, None)
        self._ticker: threading.Thread | None = None
        self.rejected_messages = 0
        # Strangers on the broker decide how often a message is refused: the SD card must
        # not fill with their lines (the count in the status keeps every one).
        self._rejections = RateLimitedLog(log, limit=REJECTION_LINES, clock=monotonic)
        self.resent = 0
        self.connections = 0  # accepted by the broker; the ones after the first: reconnects
        # (action, result) -> commands taken; result: done, refused (expired, replayed,
        # not for now), failed (a bug). Read by the metrics from another thread.
        self._commands: dict[tuple[str, str], int] = {}
        self._commands_lock = threading.Lock()
        self.client_id = gateway_client_id(
            prefix=settings.topic_prefix, hut=self._hut, install=install_id(settings.data_dir)
        )
        self._client = make_client(self._endpoint, client_id=self.client_id)
        # paho's own limit is not the pacing (the window is); it must simply not be lower.
        self._client.max_inflight_messages_set(self._window)
        self._offline = offline_status(self._hut).sealed(self._key)
        self._client.will_set(self._topics.status(self._hut), self._offline, qos=1, retain=True)
        self._client.on_connect = self._handle_connect
        self._client.on_connect_fail = self._handle_connect_fail
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def endpoint_url(self) -> str:
        """The broker for people: scheme, host and port, no user or password."""
        return self._endpoint.url

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._out)

    def uptime_s(self) -> int:
        return int(self._monotonic() - self._started)

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        self._client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=30)
        self._client.loop_start()
        self._ticker = threading.Thread(target=self._tick, name="uplink-ticker", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        if self.connected:
            # A clean disconnect does not fire the last will: say "offline" ourselves.
            info = self._client.publish(
                self._topics.status(self._hut), self._offline, qos=1, retain=True
            )
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, item: Pending) -> None:
        """A new outbox entry: sent now if it is next in line and the window has room,
        else it waits its turn in the outbox."""
        with self._lock:
            if not self.connected:
                return
            if item.seq == self._cursor + 1 and len(self._out) < self._window:
                self._send(item)
            else:
                self._pump()

    def publish_status(self) -> None:
        if not self.connected:
            return
        status = self._status()
        self._announce(status.firmware)
        if "uptime_s" in Status.model_fields:  # the contract's field, once it has one
            status = status.model_copy(update={"uptime_s": self.uptime_s()})
        self._status_depth = status.outbox
        self._next_status = self._monotonic() + self._settings.status_interval_s
        self._client.publish(
            self._topics.status(self._hut), status.sealed(self._key), qos=1, retain=True
        )

    def _announce(self, firmware: str | None) -> None:
        """Home Assistant's discovery config, retained: once per connection, and again when
        the controller's firmware becomes known or changes (the device's ``sw_version``).
        A controller gone (firmware None) keeps the last one announced."""
        if not self._settings.homeassistant:
            return
        with self._lock:  # the status goes out from three threads: announced once
            done, announced = self._announced
            firmware = firmware if firmware is not None else announced
            if done and firmware == announced:
                return
            self._announced = (True, firmware)
            for message in discovery_messages(
                hut=self._hut,
                topics=self._topics,
                status_interval_s=self._settings.status_interval_s,
                firmware=firmware,
                discovery_prefix=self._settings.homeassistant_prefix,
            ):
                self._client.publish(message.topic, message.payload, qos=1, retain=True)

    def maintain(self) -> None:
        """Once a second: resend what went stale, publish status when due or changed."""
        self.resend_stale()
        if not self.connected:
            return
        if self._monotonic() >= self._next_status or self._outbox.depth() != self._status_depth:
            self.publish_status()

    def resend_unacked(self) -> int:
        """The server asked (Command "sync": its ingest came back): publish the whole
        window again now rather than after ``resend_after_s``."""
        with self._lock:
            if not self.connected:
                return 0
            out = [o.item for o in self._out.values()]
            for item in out:
                self._send(item)
            self._pump()
        if out:
            self.resent += len(out)
            log.info("server asked to sync: resent %d unacked events", len(out))
        return len(out)

    def resend_stale(self) -> int:
        """Publish again what the server has not acked for a while (it may have been down
        while the broker was up): after ``resend_after_s``, then twice as long each time
        (up to ``RESEND_BACKOFF_MAX`` times it). Only events in the window: never more
        than it at once. Duplicates are harmless: the server applies an id once."""
        with self._lock:
            if not self.connected:
                return 0
            now = self._monotonic()
            stale = [
                o.item for o in self._out.values() if o.stale(now, after_s=self._resend_after_s)
            ]
            for item in stale:
                self._send(item)
            self._pump()
        if stale:
            self.resent += len(stale)
            log.info("resent %d events the server has not acked", len(stale))
        return len(stale)

    def forget(self, ids: list[str]) -> None:
        """Acked: out of the window, and let the next ones go."""
        with self._lock:
            for event_id in ids:
                self._out.pop(event_id, None)
            self._pump()

    # Under self._lock.

    def _send(self, item: Pending) -> None:
        # Re-inserted at the end: the dict stays in order of last sending.
        before = self._out.pop(item.id, None)
        sends = 1 if before is None else before.sends + 1
        self._out[item.id] = _Out(item, self._monotonic(), sends)
        self._cursor = max(self._cursor, item.seq)
        self._client.publish(self._topics.events(self._hut), item.payload, qos=1)

    def _pump(self) -> None:
        if not self.connected:
            return
        while (room := self._window - len(self._out)) > 0:
            batch = self._outbox.pending(after=self._cursor, limit=min(room, _READ_BATCH))
            for item in batch:
                self._send(item)
            if len(batch) < min(room, _READ_BATCH):
                return

    # paho's network thread.

    def _handle_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if not connack_ok(reason):
            log.error("broker %s refused the connection: %s", self._endpoint.url, reason)
            self._set_reconnect_delay()
            return
        log.info("connected to broker %s as %s", self._endpoint.url, self.client_id)
        self.connections += 1
        self._backoff.reset()
        for kind in (TopicKind.ACK, TopicKind.CMD, TopicKind.ALLOWLIST):
            client.subscribe(self._topics.for_hut(self._hut, kind), qos=1)
        with self._lock:
            # A new connection: whatever was out on the old one may be lost; start over
            # from the oldest event in the outbox.
            self._out.clear()
            self._cursor = 0
            self._announced = (False, self._announced[1])
            self._connected.set()
        # Outside the lock: the status callback belongs to the gateway and may take its own.
        self.publish_status()
        if self._status_depth:
            log.info("draining %d events from the outbox", self._status_depth)
        with self._lock:
            self._pump()

    def _handle_connect_fail(self, client: Any, userdata: Any) -> None:
        self._set_reconnect_delay()

    def _handle_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self._connected.is_set() and not self._stopping.is_set():
            log.warning(
                "lost the broker %s (%s); events wait in the outbox", self._endpoint.url, reason
            )
        self._connected.clear()
        self._set_reconnect_delay()

    def _set_reconnect_delay(self) -> None:
        delay = self._backoff.next()
        # paho doubles its own delay from min; min == max makes it wait exactly ours.
        self._client.reconnect_delay_set(min_delay=delay, max_delay=delay)
        log.debug("next broker connection attempt in %.1f s", delay)

    def _handle_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            hut, kind = self._topics.parse(message.topic)
            if hut != self._hut:
                raise ContractError(f"message for hut {hut!r} reached hut {self._hut!r}")
            if kind is TopicKind.ACK:
                self._on_ack(parse_ack(message.payload, key=self._key))
            elif kind is TopicKind.CMD:
                if message.retain:
                    # Sealed or not: a retained unlock would open the door at every reconnect.
                    raise ContractError("retained command refused: commands are never retained")
                self._take_command(parse_command(message.payload, key=self._key))
            elif kind is TopicKind.ALLOWLIST:
                self._on_allowlist(message.payload)
        except ContractError as exc:
            self.rejected_messages += 1
            self._rejections.log("rejected message on %s: %s", _shown(message.topic), exc)
        except Exception:  # a bug in a handler must not kill paho's network thread
            self.rejected_messages += 1
            log.exception("error handling message on %s", _shown(message.topic))

    def _take_command(self, command: Command) -> None:
        result = "failed"
        try:
            self._on_command(command)
            result = "done"
        except ContractError:
            result = "refused"
            raise
        finally:
            with self._commands_lock:
                key = (command.action, result)
                self._commands[key] = self._commands.get(key, 0) + 1

    def command_counts(self) -> dict[tuple[str, str], int]:
        """Commands taken so far, by (action, result)."""
        with self._commands_lock:
            return dict(self._commands)

    def _tick(self) -> None:
        while not self._stopping.wait(TICK_S):
            try:
                self.maintain()
            except Exception:  # the next tick tries again
                log.exception("uplink maintenance failed")
