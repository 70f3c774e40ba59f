"""Home Assistant MQTT discovery for one hut: the only place that builds those topics and
payloads.

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

DEFAULT_DISCOVERY_PREFIX = "homeassistant"


@dataclass(frozen=True, slots=True)
class DiscoveryMessage:
    """One retained config message: ``payload`` is JSON."""

    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Entity:
    component: str  # binary_sensor, sensor
    key: str
    name: str
    value_template: str
    extra: tuple[tuple[str, Any], ...] = ()


def _field(name: str, expression: str) -> str:
    """Jinja that renders ``expression`` when the status carries ``name``, else None."""
    return f"{{% if value_json.{name} is defined %}}{expression}{{% else %}}None{{% endif %}}"


_ENTITIES = (
    _Entity(
        "binary_sensor",
        "door",
        "Door",
        _field("door", "{{ 'ON' if value_json.door == 'open' else 'OFF' }}"),
        (("device_class", "door"),),
    ),
    # Home Assistant's "lock" device class: on means unlocked.
    _Entity(
        "binary_sensor",
        "lock",
        "Lock",
        _field("lock", "{{ 'ON' if value_json.lock == 'unlocked' else 'OFF' }}"),
        (("device_class", "lock"),),
    ),
    _Entity(
        "binary_sensor",
        "controller",
        "Controller",
        _field("controller", "{{ 'ON' if value_json.controller == 'ok' else 'OFF' }}"),
        (("device_class", "connectivity"), ("entity_category", "diagnostic")),
    ),
    _Entity(
        "sensor",
        "outbox",
        "Events waiting for the server",
        _field("outbox", "{{ value_json.outbox }}"),
        (
            ("state_class", "measurement"),
            ("unit_of_measurement", "events"),
            ("entity_category", "diagnostic"),
            ("icon", "mdi:tray-full"),
        ),
    ),
    _Entity(
        "sensor",
        "uptime",
        "Gateway uptime",
        _field("uptime_s", "{{ value_json.uptime_s }}"),
        (
            ("device_class", "duration"),
            ("state_class", "measurement"),
            ("unit_of_measurement", "s"),
            ("entity_category", "diagnostic"),
        ),
    ),
)


def entity_keys() -> tuple[str, ...]:
    return tuple(entity.key for entity in _ENTITIES)


def discovery_messages(
    *, hut: str, topics: Topics, discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
) -> list[DiscoveryMessage]:
    """The retained config messages that make this hut appear in Home Assistant."""
    Topics(discovery_prefix)  # same rules for topic levels: raises ContractError
    status_topic = topics.status(hut)
    node = f"toolhut_{hut}"
    device = {
        "identifiers": [node],
        "name": f"Tool hut {hut}",
        "manufacturer": "toolhut",
        "model": "hut gateway",
        "sw_version": __version__,
    }
    messages = []
    for entity in _ENTITIES:
        payload: dict[str, Any] = {
            "name": entity.name,
            "unique_id": f"{node}_{entity.key}",
            "object_id": f"{node}_{entity.key}",
            "state_topic": status_topic,
            "value_template": entity.value_template,
            "availability_topic": status_topic,
            "availability_template": "{{ value_json.state }}",
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
            "origin": {"name": "toolhut", "sw_version": __version__},
            **dict(entity.extra),
        }
        if entity.component == "binary_sensor":
            payload |= {"payload_on": "ON", "payload_off": "OFF"}
        messages.append(
            DiscoveryMessage(
                topic=f"{discovery_prefix}/{entity.component}/{node}/{entity.key}/config",
                payload=json.dumps(payload, ensure_ascii=False, sort_keys=True).encode(),
            )
        )
    return messages
