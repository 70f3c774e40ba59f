"""Home Assistant MQTT discovery for one hut: the only place that builds those payloads (the
topics and the list of entities are on the floor, toolhut/homeassistant_topics.py, because
the server's broker ACL names them too).

Every entity reads the gateway's one retained status topic through a ``value_template``,
so there is no second state topic to keep in step, and takes its availability from the
same topic's ``state`` (``online``/``offline``, the latter set by the last will). A field
the status does not carry renders ``None``, which Home Assistant shows as "unknown".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from toolhut import __version__
from toolhut.contract import Topics
from toolhut.homeassistant_topics import (
    DEFAULT_DISCOVERY_PREFIX,
    ENTITIES,
    check_discovery_prefix,
    discovery_topic,
    node_id,
)


@dataclass(frozen=True, slots=True)
class DiscoveryMessage:
    """One retained config message: ``payload`` is JSON."""

    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Look:
    """How one entity of toolhut.homeassistant_topics.ENTITIES reads the status."""

    name: str
    value_template: str
    extra: tuple[tuple[str, Any], ...] = ()


def _field(name: str, expression: str) -> str:
    """Jinja that renders ``expression`` when the status carries ``name``, else None."""
    return f"{{% if value_json.{name} is defined %}}{expression}{{% else %}}None{{% endif %}}"


# Keyed by DiscoveryEntity.key; every entity of ENTITIES has one (test_homeassistant).
_LOOKS = {
    "door": _Look(
        "Door",
        _field("door", "{{ 'ON' if value_json.door == 'open' else 'OFF' }}"),
        (("device_class", "door"),),
    ),
    # Home Assistant's "lock" device class: on means unlocked.
    "lock": _Look(
        "Lock",
        _field("lock", "{{ 'ON' if value_json.lock == 'unlocked' else 'OFF' }}"),
        (("device_class", "lock"),),
    ),
    "controller": _Look(
        "Controller",
        _field("controller", "{{ 'ON' if value_json.controller == 'ok' else 'OFF' }}"),
        (("device_class", "connectivity"), ("entity_category", "diagnostic")),
    ),
    "outbox": _Look(
        "Events waiting for the server",
        _field("outbox", "{{ value_json.outbox }}"),
        (
            ("state_class", "measurement"),
            ("unit_of_measurement", "events"),
            ("entity_category", "diagnostic"),
            ("icon", "mdi:tray-full"),
        ),
    ),
    "uptime": _Look(
        "Gateway uptime",
        _field("uptime_s", "{{ value_json.uptime_s }}"),
        (
            ("device_class", "duration"),
            ("state_class", "measurement"),
            ("unit_of_measurement", "s"),
            ("entity_category", "diagnostic"),
        ),
    ),
}


def entity_keys() -> tuple[str, ...]:
    return tuple(entity.key for entity in ENTITIES)


def discovery_messages(
    *, hut: str, topics: Topics, discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
) -> list[DiscoveryMessage]:
    """The retained config messages that make this hut appear in Home Assistant."""
    check_discovery_prefix(discovery_prefix)
    status_topic = topics.status(hut)
    node = node_id(hut)
    device = {
        "identifiers": [node],
        "name": f"Tool hut {hut}",
        "manufacturer": "toolhut",
        "model": "hut gateway",
        "sw_version": __version__,
    }
    messages = []
    for entity in ENTITIES:
        look = _LOOKS[entity.key]
        payload: dict[str, Any] = {
            "name": look.name,
            "unique_id": f"{node}_{entity.key}",
            "object_id": f"{node}_{entity.key}",
            "state_topic": status_topic,
            "value_template": look.value_template,
            "availability_topic": status_topic,
            "availability_template": "{{ value_json.state }}",
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
            "origin": {"name": "toolhut", "sw_version": __version__},
            **dict(look.extra),
        }
        if entity.component == "binary_sensor":
            payload |= {"payload_on": "ON", "payload_off": "OFF"}
        messages.append(
            DiscoveryMessage(
                topic=discovery_topic(hut, entity, discovery_prefix),
                payload=json.dumps(payload, ensure_ascii=False, sort_keys=True).encode(),
            )
        )
    return messages
