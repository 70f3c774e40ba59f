"""Home Assistant discovery: valid config payloads, retained on a real broker, reading the
gateway's real status topic (templates rendered with Jinja, as Home Assistant does)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import jinja2
import pytest

from hut_gateway.homeassistant import discovery_messages, entity_keys
from tests.hut_gateway.uplink_rig import HUT, ServerSide, UplinkRig
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import ContractError, DoorState, Topics, offline_status
from toolhut.homeassistant_topics import discovery_topics

# What Home Assistant's MQTT discovery needs for these entities to appear with a device.
REQUIRED = {"name", "unique_id", "state_topic", "value_template", "device", "availability_topic"}
DEVICE_CLASSES = {"door", "lock", "connectivity", "duration"}


def render(template: str, payload: bytes) -> str:
    return jinja2.Environment().from_string(template).render(value_json=json.loads(payload))


def test_every_entity_reads_the_status_topic_and_has_what_home_assistant_requires() -> None:
    topics = Topics("site-a/toolhut")
    messages = discovery_messages(hut="hut-07", topics=topics, discovery_prefix="ha")
    assert len(messages) == len(entity_keys()) == 5
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
        assert config.get("device_class", "door") in DEVICE_CLASSES
        if component == "binary_sensor":
            assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
        unique_ids.add(config["unique_id"])
    assert len(unique_ids) == len(messages)
    with pytest.raises(ContractError):
        discovery_messages(hut="hut-07", topics=topics, discovery_prefix="ha/#")


def test_the_gateway_publishes_exactly_the_topics_the_broker_acl_grants() -> None:
    # The server's ACL (server/broker_auth.py) lists toolhut.homeassistant_topics' topics.
    messages = discovery_messages(hut="hut-07", topics=Topics("x"), discovery_prefix="ha")
    assert [m.topic for m in messages] == discovery_topics("hut-07", "ha")
    with pytest.raises(ContractError):
        discovery_topics("hut-07", "ha/+")


def test_templates_turn_the_real_status_into_home_assistant_states(
    tmp_path: Path, broker: Broker
) -> None:
    config = {m.topic.split("/")[3]: json.loads(m.payload) for m in
              discovery_messages(hut=HUT, topics=Topics("x"))}  # fmt: skip
    rig = UplinkRig(tmp_path, broker, "x")
    status = rig.status().sealed(rig.key)  # door open, controller ok, outbox 0; as published
    assert render(config["door"]["value_template"], status) == "ON"
    assert render(config["controller"]["value_template"], status) == "ON"
    assert render(config["outbox"]["value_template"], status) == "0"
    assert render(config["door"]["availability_template"], status) == "online"
    rig.door = DoorState.CLOSED
    assert render(config["door"]["value_template"], rig.status().sealed(rig.key)) == "OFF"
    # The last will: every entity unavailable, no state made up from missing fields.
    will = offline_status(HUT).sealed(rig.key)
    assert render(config["door"]["availability_template"], will) == "offline"
    assert render(config["door"]["value_template"], will) == "None"
    assert render(config["outbox"]["value_template"], will) == "None"
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
        # A first subscriber may catch some publishes live; once it has seen all five they
        # are on the broker, and a subscriber coming after that gets retained copies only.
        first = ServerSide(broker, Topics(topic_prefix), rig.key, also=f"{discovery_prefix}/#")
        try:
            poll_until(lambda: len(first.other) >= 5, what="five discovery messages")
        finally:
            first.stop()
        late = ServerSide(broker, Topics(topic_prefix), rig.key, also=f"{discovery_prefix}/#")
        poll_until(lambda: len(late.other) >= 5, what="five retained discovery messages")
        seen = list(late.other)
        assert len(seen) == 5 and all(m.retain for m in seen)
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
