"""The gateway's own Prometheus metrics, scraped over HTTP from a running gateway (real pty,
real broker or none) and read with Prometheus's own text parser."""

from __future__ import annotations

import logging
import socket
import urllib.request
from collections.abc import Callable
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from firmware_bridge.emulator import ControllerEmulator
from firmware_bridge.frames import Unlock
from hut_gateway.gateway import Gateway
from tests.hut_gateway.rig import CARD, HUT, allowlist, bench, no_broker_settings
from tests.support.keys import TestKeys
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import EventAck, Outcome
from toolhut_cli.embedded_broker import free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
P = "toolhut_gateway_"


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(P + name, tuple(sorted(labels.items())))]


def scrape_until(port: int, match: Callable[[Samples], bool], *, what: str) -> Samples:
    """Scrape again and again until the numbers show ``what`` (a deadline, no sleep)."""

    def scraped() -> Samples | None:
        samples = scrape(port)
        return samples if match(samples) else None

    return poll_until(scraped, what=what)


def test_with_the_broker_away_a_card_tap_moves_the_outbox_and_the_recorded_count(
    tmp_path: Path, topic_prefix: str
) -> None:
    keys = TestKeys(tmp_path / "keys")
    emulator = ControllerEmulator(output=lambda line: None)
    emulator.start()
    settings = no_broker_settings(tmp_path, keys, emulator, topic_prefix).model_copy(
        update={"metrics_port": free_port()}
    )
    gateway = Gateway(settings)
    gateway.allowlist.offer(allowlist(keys.key(HUT), CARD).sealed(keys.key(HUT)))
    gateway.start()
    try:
        port = gateway.metrics.port
        assert port == settings.metrics_port
        before = scrape_until(
            port, lambda s: value(s, "events_recorded_total") >= 1, what="the hello recorded"
        )
        assert value(before, "mqtt_connected") == 0
        assert value(before, "controller_state", state="ok") == 1
        assert value(before, "controller_state", state="absent") == 0
        assert value(before, "alarm_active", kind="tamper") == 0
        assert value(before, "door_open") == 0  # the reed switch's report after the hello
        assert value(before, "allowlist_version") == 1
        info = [k for k in before if k[0] == P + "info"]
        assert dict(info[0][1])["hut"] == HUT and dict(info[0][1])["firmware"] == "emu-1.0.0"

        emulator.command(f"card {CARD}")
        poll_until(lambda: any(isinstance(f, Unlock) for f in emulator.received), what="unlock")
        emulator.command("tamper")
        emulator.inject(b"\x00\x07\x07\x07\x00")  # line noise: 3 bytes that are no frame
        after = scrape_until(
            port,
            lambda s: (
                value(s, "outbox_depth") >= value(before, "outbox_depth") + 2
                and value(s, "serial_garbage_bytes_total") >= 3
            ),
            what="the card and the tamper alarm in the outbox, the noise counted",
        )
        recorded = value(after, "events_recorded_total") - value(before, "events_recorded_total")
        depth = value(after, "outbox_depth") - value(before, "outbox_depth")
        assert recorded == depth >= 2  # the card and the alarm, nothing left the outbox
        assert value(after, "events_acked_total") == 0
        assert value(after, "alarm_active", kind="tamper") == 1
        assert value(after, "serial_garbage_bytes_total") == 3
        assert value(after, "serial_errors_total", kind="bad_crc") == 0
    finally:
        gateway.stop()
        emulator.stop()
    with pytest.raises(OSError):  # stopped with the gateway
        scrape(port)


def test_acks_commands_and_rejected_messages_are_counted_with_the_broker_there(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix, metrics_port=free_port()) as hut:
        port = hut.gateway.metrics.port
        assert port is not None
        hut.emulator.command(f"card {CARD}")
        card = hut.server.wait_event(lambda e: e.type == "card", what="the card event")
        first = scrape(port)
        assert value(first, "mqtt_connected") == 1
        assert value(first, "mqtt_reconnects_total") == 0
        hut.server.ack(EventAck(id=card.id, seq=card.seq, outcome=Outcome.APPLIED))
        hut.server.command("unlock")
        hut.server.command("unlock", expired=True)
        hut.server.publish(hut.server.topics.cmd(HUT), b"not a sealed command")
        done = scrape_until(
            port,
            lambda s: (
                value(s, "events_acked_total") >= 1
                and value(s, "mqtt_rejected_messages_total") >= 2
                and value(s, "commands_total", action="unlock", result="refused") >= 1
            ),
            what="the ack, the commands and the refused message counted",
        )
        assert value(done, "events_acked_total") == value(first, "events_acked_total") + 1
        assert value(done, "events_recorded_total") - value(done, "events_acked_total") == (
            value(done, "outbox_depth")
        )
        assert value(done, "commands_total", action="unlock", result="done") == 1
        assert value(done, "commands_total", action="unlock", result="refused") == 1
        # Refused: the unsealed message, and the expired command (a rejected message too).
        assert value(done, "mqtt_rejected_messages_total") == 2


def test_each_gateway_has_its_own_registry_and_a_taken_port_does_not_stop_the_hut(
    tmp_path: Path, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    keys = TestKeys(tmp_path / "keys")
    emulator = ControllerEmulator(output=lambda line: None)
    emulator.start()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    settings = no_broker_settings(tmp_path, keys, emulator, topic_prefix).model_copy(
        update={"metrics_port": taken.getsockname()[1]}
    )
    gateway = Gateway(settings)
    gateway.allowlist.offer(allowlist(keys.key(HUT), CARD).sealed(keys.key(HUT)))
    try:
        with caplog.at_level(logging.ERROR, logger="hut_gateway.metrics"):
            gateway.start()
        assert gateway.metrics.port is None
        assert "metrics not served" in caplog.text
        emulator.command(f"card {CARD}")  # the door still opens
        poll_until(lambda: any(isinstance(f, Unlock) for f in emulator.received), what="unlock")
        # Not in the library's global registry: several gateways in one process each count
        # their own (read from their own registry, as the HTTP server does).
        names = {m.name for m in prometheus_client.REGISTRY.collect()}
        assert not any(name.startswith(P) for name in names)
        ours = {m.name for m in gateway.metrics.registry.collect()}
        assert {P + "outbox_depth", P + "events_recorded"} <= ours
    finally:
        gateway.stop()
        emulator.stop()
        taken.close()
