"""Home Assistant discovery: valid config payloads (against Home Assistant's own schema),
retained on a real broker, reading the gateway's real status topic (templates rendered with
Jinja, as Home Assistant does), unavailable once the status stops coming."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import jinja2
import pytest

from hut_gateway.health import HealthLimits
from hut_gateway.homeassistant import discovery_messages, entity_keys, expire_after_s
from tests.hut_gateway import homeassistant_schema
from tests.hut_gateway.rig import HUT as BENCH_HUT
from tests.hut_gateway.rig import bench
from tests.hut_gateway.uplink_rig import HUT, ServerSide, UplinkRig
from tests.support.mqtt_probe import Probe
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut import __version__
from toolhut.contract import AlarmKind, ContractError, DoorState, Topics, offline_status
from toolhut.homeassistant_topics import ENTITIES, discovery_topics

REPO = Path(__file__).resolve().parents[2]
# What Home Assistant 2024.3.3's MQTT discovery schema allows (tests/data/README.md).
HA_SCHEMA = json.loads((REPO / "tests/data/homeassistant_mqtt_schema.json").read_text())
# What it needs for these entities to appear with a device (its schema requires none).
REQUIRED = {
    "name", "unique_id", "state_topic", "value_template", "device", "availability_topic",
    "expire_after",
}  # fmt: skip
# A Python with Home Assistant installed, to ask the real schema (docs/raspberry-pi.md).
HA_PYTHON = os.environ.get("TOOLHUT_TEST_HA_PYTHON")
SCHEMA_SCRIPT = Path(homeassistant_schema.__file__)


def render(template: str, payload: bytes) -> str:
    return jinja2.Environment().from_string(template).render(value_json=json.loads(payload))


def configs(**kwargs: Any) -> list[tuple[str, dict[str, Any]]]:
    """(component, config) of every discovery message."""
    given: dict[str, Any] = {"hut": "hut-07", "topics": Topics("site-a/toolhut")}
    kwargs = given | {"status_interval_s": 60} | kwargs
    return [(m.topic.split("/")[1], json.loads(m.payload)) for m in discovery_messages(**kwargs)]


def test_every_entity_reads_the_status_topic_and_has_what_home_assistant_requires() -> None:
    topics = Topics("site-a/toolhut")
    messages = discovery_messages(
        hut="hut-07", topics=topics, status_interval_s=60, discovery_prefix="ha"
    )
    assert len(messages) == len(entity_keys()) == 8
    unique_ids = set()
    for message in messages:
        prefix, component, node, key, tail = message.topic.split("/")
        assert (prefix, node, tail) == ("ha", "toolhut_hut-07", "config")
        assert component in {"binary_sensor", "sensor"} and key in entity_keys()
        config = json.loads(message.payload)
        assert config.keys() >= REQUIRED, message.topic
        assert config["state_topic"] == config["availability_topic"] == topics.status("hut-07")
        assert config["payload_available"] == "online"
        assert config["payload_not_available"] == "offline"
        assert config["device"]["identifiers"] == ["toolhut_hut-07"]
        if component == "binary_sensor":
            assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
        unique_ids.add(config["unique_id"])
    assert len(unique_ids) == len(messages)
    with pytest.raises(ContractError):
        configs(discovery_prefix="ha/#")


@pytest.mark.parametrize("firmware", [None, "toolhut-ctl-1.0.0"])
def test_every_config_is_one_home_assistants_schema_takes_whole(firmware: str | None) -> None:
    # Home Assistant drops a key it does not know without a word: each must be one it knows.
    for component, config in configs(firmware=firmware):
        allowed = HA_SCHEMA["components"][component]
        assert set(config) <= set(allowed["keys"]), config["unique_id"]
        assert set(config["device"]) <= set(HA_SCHEMA["device_keys"])
        assert set(config["origin"]) <= set(HA_SCHEMA["origin_keys"])
        assert config["device"]["identifiers"]  # a device needs one (or a connection)
        if "device_class" in config:
            assert config["device_class"] in allowed["device_class"], config["unique_id"]
        if "state_class" in config:
            assert config["state_class"] in allowed["state_class"]
        if "entity_category" in config:
            assert config["entity_category"] in HA_SCHEMA["entity_category"]
        assert isinstance(config["expire_after"], int) and config["expire_after"] > 0
        device = dict(config["device"])
        assert all(isinstance(i, str) for i in device.pop("identifiers"))
        assert all(isinstance(v, str) for v in device.values())  # Home Assistant's cv.string


@pytest.mark.skipif(
    HA_PYTHON is None,
    reason="TOOLHUT_TEST_HA_PYTHON not set: discovery NOT checked by Home Assistant itself "
    "(only against tests/data/homeassistant_mqtt_schema.json); docs/raspberry-pi.md says how",
)
def test_home_assistant_itself_accepts_every_config() -> None:
    assert HA_PYTHON is not None
    items = [{"component": c, "config": config} for c, config in configs(firmware="emu-1.0.0")]
    done = subprocess.run(
        [HA_PYTHON, str(SCHEMA_SCRIPT), "validate"], input=json.dumps(items), text=True,
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    verdicts = json.loads(done.stdout)
    assert len(verdicts) == len(items) == len(ENTITIES)
    assert all(v == {"ok": True, "error": None, "dropped": []} for v in verdicts), verdicts


def test_each_alarm_of_the_status_is_a_binary_sensor_of_its_device_class() -> None:
    by_key = {config["unique_id"].removeprefix("toolhut_hut-07_"): (component, config)
              for component, config in configs()}  # fmt: skip
    classes = {AlarmKind.FORCED_OPEN: "safety", AlarmKind.HELD_OPEN: "problem",
               AlarmKind.TAMPER: "tamper"}  # fmt: skip
    assert set(classes) == set(AlarmKind)
    for kind, device_class in classes.items():
        component, config = by_key[kind.value]
        assert (component, config["device_class"]) == ("binary_sensor", device_class)


def test_the_device_carries_the_controller_firmware_once_it_is_known() -> None:
    before = {json.dumps(c["device"]) for _, c in configs()}
    after = {json.dumps(c["device"]) for _, c in configs(firmware="toolhut-ctl-1.0.0")}
    assert len(before) == len(after) == 1  # one device, the same in every entity
    device_before, device_after = json.loads(before.pop()), json.loads(after.pop())
    assert "sw_version" not in device_before
    assert device_after["sw_version"] == "toolhut-ctl-1.0.0"
    assert device_after["hw_version"] == device_before["hw_version"] == f"gateway {__version__}"


def test_expire_after_outlasts_three_status_intervals() -> None:
    for interval in (5, 60, 61.5):
        expire = expire_after_s(interval)
        assert expire > 3 * interval and isinstance(expire, int)
        assert {c["expire_after"] for _, c in configs(status_interval_s=interval)} == {expire}


def test_the_gateway_publishes_exactly_the_topics_the_broker_acl_grants() -> None:
    # The server's ACL (server/broker_auth.py) lists toolhut.homeassistant_topics' topics.
    messages = discovery_messages(
        hut="hut-07", topics=Topics("x"), status_interval_s=60, discovery_prefix="ha"
    )
    assert [m.topic for m in messages] == discovery_topics("hut-07", "ha")
    with pytest.raises(ContractError):
        discovery_topics("hut-07", "ha/+")


def test_templates_turn_the_real_status_into_home_assistant_states(
    tmp_path: Path, broker: Broker
) -> None:
    config = {m.topic.split("/")[3]: json.loads(m.payload) for m in
              discovery_messages(hut=HUT, topics=Topics("x"), status_interval_s=60)}  # fmt: skip
    rig = UplinkRig(tmp_path, broker, "x")
    status = rig.status().sealed(rig.key)  # door open, controller ok, outbox 0; as published
    assert render(config["door"]["value_template"], status) == "ON"
    assert render(config["controller"]["value_template"], status) == "ON"
    assert render(config["outbox"]["value_template"], status) == "0"
    assert render(config["door"]["availability_template"], status) == "online"
    for kind in AlarmKind:  # none raised
        assert render(config[kind.value]["value_template"], status) == "OFF"
    rig.door = DoorState.CLOSED
    assert render(config["door"]["value_template"], rig.status().sealed(rig.key)) == "OFF"
    rig.alarms = [AlarmKind.FORCED_OPEN, AlarmKind.TAMPER]
    alarmed = rig.status().sealed(rig.key)
    shown = {kind: render(config[kind.value]["value_template"], alarmed) for kind in AlarmKind}
    assert shown == {AlarmKind.FORCED_OPEN: "ON", AlarmKind.HELD_OPEN: "OFF",
                     AlarmKind.TAMPER: "ON"}  # fmt: skip
    # The last will: every entity unavailable, no state made up from missing fields.
    will = offline_status(HUT).sealed(rig.key)
    assert render(config["door"]["availability_template"], will) == "offline"
    assert render(config["door"]["value_template"], will) == "None"
    assert render(config["outbox"]["value_template"], will) == "None"
    assert render(config["tamper"]["value_template"], will) == "None"
    rig.outbox.close()


def test_discovery_reaches_the_broker_retained_when_enabled(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    discovery_prefix = f"ha-test-{uuid.uuid4().hex[:8]}"
    rig = UplinkRig(
        tmp_path, broker, topic_prefix,
        homeassistant=True, homeassistant_prefix=discovery_prefix,
    )  # fmt: skip
    rig.start()
    seen: list[Any] = []
    late = None
    try:
        poll_until(lambda: rig.uplink.connected, what="uplink connected")
        # A first subscriber may catch some publishes live; once it has seen all eight they
        # are on the broker, and a subscriber coming after that gets retained copies only.
        first = ServerSide(broker, Topics(topic_prefix), rig.key, also=f"{discovery_prefix}/#")
        try:
            poll_until(lambda: len(first.other) >= 8, what="eight discovery messages")
        finally:
            first.stop()
        late = ServerSide(broker, Topics(topic_prefix), rig.key, also=f"{discovery_prefix}/#")
        poll_until(lambda: len(late.other) >= 8, what="eight retained discovery messages")
        seen = list(late.other)
        assert len(seen) == 8 and all(m.retain for m in seen)
        for message in seen:
            config = json.loads(message.payload)
            assert config["state_topic"] == Topics(topic_prefix).status(HUT)
    finally:
        rig.stop()
        if late is not None:
            for message in seen:  # leave no retained config behind on the machine's broker
                late.client.publish(message.topic, b"", qos=1, retain=True).wait_for_publish(5)
            late.client.publish(
                Topics(topic_prefix).status(HUT), b"", qos=1, retain=True
            ).wait_for_publish(5)
            late.stop()


def _clear_retained(client: Any, topics: list[str]) -> None:
    """Leave no retained config behind on the machine's broker."""
    for topic in topics:
        client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)


def test_discovery_is_announced_again_when_the_controller_firmware_is_known_or_changes(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    discovery_prefix = f"ha-test-{uuid.uuid4().hex[:8]}"
    rig = UplinkRig(
        tmp_path, broker, topic_prefix,
        homeassistant=True, homeassistant_prefix=discovery_prefix,
    )  # fmt: skip
    watch = ServerSide(broker, Topics(topic_prefix), rig.key, also=f"{discovery_prefix}/#")
    rig.start()

    def sw_versions() -> list[str | None]:
        return [json.loads(m.payload)["device"].get("sw_version") for m in list(watch.other)]

    try:
        poll_until(lambda: len(watch.other) >= 8, what="the first announcement")
        assert sw_versions() == [None] * 8  # no controller heard yet
        for firmware, announced in (
            ("emu-1.0.0", "emu-1.0.0"),  # it said hello: announced with its firmware
            ("emu-1.0.0", None),  # the same again: nothing new
            (None, None),  # the controller went away: the device keeps its firmware
            ("emu-2.0.0", "emu-2.0.0"),  # flashed with another: announced again
        ):
            rig.firmware = firmware
            rig.uplink.publish_status()
            if announced is not None:
                poll_until(lambda a=announced: sw_versions().count(a) == 8,
                           what=f"the config with {announced}")  # fmt: skip
        # In order, from one client: what came is all there is.
        assert sw_versions() == [None] * 8 + ["emu-1.0.0"] * 8 + ["emu-2.0.0"] * 8
    finally:
        rig.stop()
        _clear_retained(watch.client, [*discovery_topics(HUT, discovery_prefix),
                                       Topics(topic_prefix).status(HUT)])  # fmt: skip
        watch.stop()


def test_a_gateway_that_stops_republishing_expires_and_one_that_lives_republishes_in_time(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    discovery_prefix = f"ha-test-{uuid.uuid4().hex[:8]}"
    probe = Probe(broker.endpoint)
    assert probe.connect()
    probe.subscribe(f"{discovery_prefix}/#")
    interval = 60.0
    limits = HealthLimits(controller_silent_s=10_000)  # the clock jumps; the controller is fine
    ha: dict[str, Any] = {"homeassistant": True, "homeassistant_prefix": discovery_prefix}
    with bench(tmp_path, broker, topic_prefix, limits=limits, status_interval_s=interval, **ha) as (
        hut
    ):
        # The config Home Assistant gets: schema-valid, expiring after three intervals and more.
        topics = discovery_topics(BENCH_HUT, discovery_prefix)
        announced = [probe.expect(topic) for topic in topics]
        for message in announced:
            config = json.loads(message.payload)
            component = message.topic.split("/")[1]
            assert set(config) <= set(HA_SCHEMA["components"][component]["keys"])
            assert config["expire_after"] == expire_after_s(interval) > 3 * interval

        # Nothing changes at the hut; the status still comes once an interval has passed.
        first = hut.server.wait_status(
            lambda s: s.firmware is not None and s.outbox == hut.gateway.outbox.depth(),
            what="the settled status",
        )
        seen = len(hut.server.statuses)
        hut.clock.advance(interval)
        again = poll_until(lambda: hut.server.statuses[seen:] and hut.server.statuses[seen],
                           what="the second status, after one interval")  # fmt: skip
        assert first.uptime_s is not None and again.uptime_s is not None
        assert again.uptime_s >= first.uptime_s + interval  # sent after the clock moved
        same = {"ts", "uptime_s"}
        assert again.model_dump(exclude=same) == first.model_dump(exclude=same)
        assert again.ts is not None and first.ts is not None and again.ts > first.ts
        _clear_retained(probe.client, [m.topic for m in announced])
    probe.close()
