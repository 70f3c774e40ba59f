"""The uplink's drain, resends, status and reconnect backoff, on a real broker."""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from pathlib import Path

import pytest

from hut_gateway.uplink import REJECTION_LINES, Backoff
from tests.hut_gateway.uplink_rig import HUT, ServerSide, UplinkRig, door_event
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import (
    AckBatch,
    Command,
    EventAck,
    Outcome,
    TopicKind,
    Topics,
    new_id,
    parse_status,
    utc_now,
)
from toolhut.hut_keys import HutKey
from toolhut.mqtt import gateway_client_id


def test_backoff_grows_with_jitter_up_to_the_ceiling_and_resets() -> None:
    backoff = Backoff(min_s=1.0, max_s=30.0, rng=random.Random(7))
    delays = [backoff.next() for _ in range(12)]
    for attempt, delay in enumerate(delays):
        assert 1.0 <= delay <= min(30.0, 2.0**attempt)
    assert max(delays[6:]) > 10  # it does grow ...
    assert len(set(delays)) == len(delays)  # ... and no two huts wait in step
    backoff.reset()
    assert backoff.next() == 1.0


def test_a_backlog_drains_in_order_through_a_window_paced_by_acks(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    rig = UplinkRig(tmp_path, broker, topic_prefix, drain_window=50)
    server = ServerSide(broker, Topics(topic_prefix), rig.key)
    backlog = rig.record(300)  # the broker was away: all of it waits in the outbox
    try:
        rig.start()
        poll_until(lambda: server.count() == 50, what="the first window")
        assert rig.uplink.in_flight == 50
        rig.record(1)  # a live event waits behind the backlog
        server.ack(server.received[:20])
        poll_until(lambda: server.count() == 70, what="20 more after 20 acks")
        poll_until(lambda: rig.outbox.depth() == 281, what="acked events leave the outbox")
        assert rig.uplink.in_flight == 50

        with server._lock:
            unacked = server.received[20:]
        server.auto_ack = True
        server.ack(unacked)
        poll_until(lambda: rig.outbox.depth() == 0, timeout=20, what="the drained outbox")
        seqs = [seq for seq, _ in server.received]
        assert seqs == list(range(1, 302))  # each once, in sequence order
        assert [item.seq for item in backlog] == list(range(1, 301))
        assert rig.uplink.resent == 0
    finally:
        rig.stop()
        server.stop()


def test_unacked_events_are_resent_after_a_while_but_only_the_window(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    rig = UplinkRig(tmp_path, broker, topic_prefix, drain_window=10, resend_after_s=30)
    server = ServerSide(broker, Topics(topic_prefix), rig.key)  # a server that never acks
    rig.record(40)
    try:
        rig.start()
        poll_until(lambda: server.count() == 10, what="the first window")
        rig.clock.now += 29
        assert rig.uplink.resend_stale() == 0
        rig.clock.now += 1
        assert rig.uplink.resend_stale() == 10
        poll_until(lambda: server.count() == 20, what="the resent window")
        assert [seq for seq, _ in server.received] == list(range(1, 11)) * 2
        assert rig.outbox.depth() == 40  # nothing leaves without the server's ack
    finally:
        rig.stop()
        server.stop()


def test_an_event_still_unacked_is_resent_after_longer_and_longer(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    # A server that is slow, not away, is not sent the whole window every half minute.
    rig = UplinkRig(tmp_path, broker, topic_prefix, drain_window=5, resend_after_s=30)
    server = ServerSide(broker, Topics(topic_prefix), rig.key)  # a server that never acks
    rig.record(5)
    try:
        rig.start()
        poll_until(lambda: server.count() == 5, what="the window")
        resends = []
        for _ in range(16):  # 8 minutes, a look every 30 s
            rig.clock.now += 30
            resends.append(rig.uplink.resend_stale())
        # After 30 s, then 60, 120, 240, and every 240 s after that.
        assert resends == [5, 0, 5, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5, 0]
        poll_until(lambda: server.count() == 25, what="the resent windows")
    finally:
        rig.stop()
        server.stop()


def test_status_is_published_periodically_and_when_the_outbox_changes(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    topics = Topics("status-" + topic_prefix)
    rig = UplinkRig(tmp_path, broker, topics.prefix, status_interval_s=60)
    watcher = ServerSide(broker, topics, rig.key, also=topics.status("uplink-test"))
    try:
        rig.start()
        poll_until(lambda: len(watcher.other) >= 1, what="status on connect")
        first = len(watcher.other)
        rig.clock.now += 60
        rig.uplink.maintain()
        poll_until(lambda: len(watcher.other) > first, what="the periodic status")
        assert rig.uplink.uptime_s() == 60
        rig.outbox.append(door_event)  # recorded while the window is free: depth 1
        rig.uplink.maintain()
        poll_until(
            lambda: parse_status(watcher.other[-1].payload, key=rig.key).outbox == 1,
            what="status with the new outbox depth",
        )
    finally:
        rig.stop()
        watcher.client.publish(topics.status("uplink-test"), b"", qos=1, retain=True)
        watcher.stop()


def test_the_same_hut_under_two_prefixes_keeps_both_connections(
    tmp_path: Path, broker: Broker, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A demo and a test run (or two demos) on one broker: the broker drops the older of two
    # clients with one id, so the ids must differ by prefix.
    rigs = [UplinkRig(tmp_path / p, broker, p) for p in (topic_prefix, f"{topic_prefix}/b")]
    servers = [ServerSide(broker, Topics(rig.settings.topic_prefix), rig.key) for rig in rigs]
    for server in servers:
        server.auto_ack = True
    try:
        with caplog.at_level(logging.WARNING, logger="hut_gateway.uplink"):
            for rig in rigs:
                rig.start()
            for rig in rigs:  # a round trip each, after both connected
                rig.record(1)
                poll_until(lambda rig=rig: rig.outbox.depth() == 0, what="the event acked")
            assert all(rig.uplink.connected for rig in rigs)
        assert "lost the broker" not in caplog.text
    finally:
        for rig in rigs:
            rig.stop()
        for server in servers:
            server.stop()
    assert len({rig.uplink.client_id for rig in rigs}) == 2


def test_the_client_id_holds_an_install_id_made_once_per_data_folder(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    first, second = (UplinkRig(tmp_path / n, broker, topic_prefix) for n in ("a", "b"))
    try:
        ids = first.uplink.client_id, second.uplink.client_id
        assert ids[0] != ids[1]  # same hut, same prefix, two installations
        install = (tmp_path / "a" / "gw" / "install-id").read_text().strip()
        assert ids[0] == gateway_client_id(prefix=topic_prefix, hut=HUT, install=install)
        assert len(install) == 16 and ids[0].startswith(f"toolhut-gateway.{topic_prefix}.{HUT}.")
    finally:
        first.stop()
        second.stop()
    again = UplinkRig(tmp_path / "a", broker, topic_prefix)  # the same Pi, restarted
    try:
        assert again.uplink.client_id == ids[0]
    finally:
        again.stop()


def test_only_what_the_server_sealed_is_taken_and_never_a_retained_command(
    tmp_path: Path, broker: Broker, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    topics = Topics(topic_prefix)
    rig = UplinkRig(tmp_path, broker, topic_prefix)
    server = ServerSide(broker, topics, rig.key)
    stranger = rig.keys.key("other-hut")
    now = utc_now()

    def command(key: HutKey = rig.key) -> Command:
        expires = now + timedelta(minutes=1)
        return Command(id=new_id(), hut=key.hut, issued=now, expires=expires, action="unlock")

    def publish(topic: str, payload: bytes, *, retain: bool = False) -> None:
        server.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    # Retained before the gateway connects: it comes with the retain flag, sealed or not.
    publish(topics.cmd(HUT), command().sealed(rig.key), retain=True)
    try:
        rig.start()
        poll_until(lambda: rig.uplink.rejected_messages == 1, what="the retained command refused")
        assert rig.commands == []
        stored = rig.record(2)
        ack = AckBatch(hut=HUT, acks=[EventAck(id=stored[0].id, seq=1, outcome=Outcome.APPLIED)])
        forged = bytearray(ack.sealed(rig.key))
        forged[20] ^= 1
        other = AckBatch(hut="other-hut", acks=ack.acks)
        for payload in (
            ack.to_bytes(),  # unsealed
            bytes(forged),
            other.sealed(stranger),  # another hut's, on this hut's topic
            rig.key.seal(TopicKind.ACK, other.to_bytes()),  # this key, naming another hut
            ack.sealed(rig.key).replace(b'"mac":"', b'"mac" :"'),
        ):
            publish(topics.ack(HUT), payload)
        for payload in (command().to_bytes(), command(stranger).sealed(stranger)):
            publish(topics.cmd(HUT), payload)
        poll_until(lambda: rig.uplink.rejected_messages == 8, what="seven more refusals")
        assert rig.outbox.depth() == 2 and rig.commands == []  # nothing acked, nothing obeyed

        publish(topics.ack(HUT), ack.sealed(rig.key))  # what the server sends
        sent = command()
        publish(topics.cmd(HUT), sent.sealed(rig.key))
        poll_until(lambda: rig.outbox.depth() == 1 and rig.commands == [sent], what="obeyed")
        assert rig.uplink.rejected_messages == 8
        assert caplog.text.count("rejected message on") == 8
        assert "retained command refused" in caplog.text and "MAC does not match" in caplog.text
    finally:
        rig.stop()
        publish(topics.cmd(HUT), b"", retain=True)
        server.stop()


def test_a_flood_of_forged_messages_is_counted_whole_and_logged_in_a_few_lines(
    tmp_path: Path, broker: Broker, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hut_gateway.uplink")
    topics = Topics(topic_prefix)
    rig = UplinkRig(tmp_path, broker, topic_prefix)
    server = ServerSide(broker, topics, rig.key)
    flood = 200
    try:
        rig.start()

        def subscribed() -> bool:  # a forgery is refused: the gateway hears its topics
            server.client.publish(topics.ack(HUT), b"{}", qos=1).wait_for_publish(5)
            return rig.uplink.rejected_messages > 0

        poll_until(subscribed, what="the gateway subscribed")
        first = rig.uplink.rejected_messages
        for n in range(flood):
            server.client.publish(topics.ack(HUT), b'{"forged":%d}' % n, qos=1)
        # At least: a probe of subscribed() still in flight may land after ``first``.
        total = first + flood
        poll_until(
            lambda: rig.uplink.rejected_messages >= total, what="every forgery counted", timeout=60
        )
        lines = caplog.text.count("rejected message on")
        assert lines == REJECTION_LINES, lines  # the rest wait for one "suppressed" line
    finally:
        rig.stop()
        server.stop()


def test_every_server_settings_object_has_its_own_ingest_client_id() -> None:
    from server.settings import ServerSettings

    assert ServerSettings().ingest_client_id != ServerSettings().ingest_client_id
