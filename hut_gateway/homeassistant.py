"""Home Assistant MQTT discovery for one hut: the only place that builds those payloads (the
topics and the list of entities are on the floor, toolhut/homeassistant_topics.py, because
the server's broker ACL names them too).

Every entity reads the gateway's one retained status topic through a ``value_template``,
so there is no second state topic to keep in step, and takes its availability from the
same topic's ``state`` (``online``/``offline``, the latter set by the last will). A field
the status does not carry renders ``None``, which Home Assistant shows as "unknown".

A gateway that is connected but hung publishes nothing, and no last will fires for it:
every entity has an ``expire_after`` of a few status intervals, so Home Assistant marks
it unavailable once the periodic status stops coming. The device carries the
controller's firmware (``sw_version``) once the controller has said hello; the uplink
announces the config again when that firmware becomes known or changes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from toolhut import __version__
from toolhut.contract import AlarmKind, Topics
from toolhut.homeassistant_topics import (
    DEFAULT_DISCOVERY_PREFIX,
    ENTITIES,
    check_discovery_prefix,
    discovery_topic,
    node_id,
)
from toolhut.i18n import bilingual


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


# Keyed by DiscoveryEntity.key; every entity of ENTITIES has one (test_homeassistant). The
# names are what people read in Home Assistant: Chinese first, English beside it.
_LOOKS = {
    "door": _Look(
        bilingual("Door"),
        _field("door", "{{ 'ON' if value_json.door == 'open' else 'OFF' }}"),
        (("device_class", "door"),),
    ),
    # Home Assistant's "lock" device class: on means unlocked.
    "lock": _Look(
        bilingual("Lock"),
        _field("lock", "{{ 'ON' if value_json.lock == 'unlocked' else 'OFF' }}"),
        (("device_class", "lock"),),
    ),
    "controller": _Look(
        bilingual("Controller"),
        _field("controller", "{{ 'ON' if value_json.controller == 'ok' else 'OFF' }}"),
        (("device_class", "connectivity"), ("entity_category", "diagnostic")),
    ),
    "outbox": _Look(
        bilingual("Events waiting for the server"),
        _field("outbox", "{{ value_json.outbox }}"),
        (
            ("state_class", "measurement"),
            ("unit_of_measurement", "events"),
            ("entity_category", "diagnostic"),
            ("icon", "mdi:tray-full"),
        ),
    ),
    "uptime": _Look(
        bilingual("Gateway uptime"),
        _field("uptime_s", "{{ value_json.uptime_s }}"),
        (
            ("device_class", "duration"),
            ("state_class", "measurement"),
            ("unit_of_measurement", "s"),
            ("entity_category", "diagnostic"),
        ),
    ),
}


def _alarm(kind: AlarmKind, name: str, device_class: str) -> _Look:
    """An alarm of the status as a binary sensor: on while ``kind`` is in ``alarms``."""
    shown = f"{{{{ 'ON' if '{kind.value}' in value_json.alarms else 'OFF' }}}}"
    return _Look(name, _field("alarms", shown), (("device_class", device_class),))


# Home Assistant's device classes: forced open is a break-in (safety: on means unsafe),
# held open a door someone forgot (problem), tamper the enclosure or the reader's cable.
_LOOKS |= {
    AlarmKind.FORCED_OPEN.value: _alarm(AlarmKind.FORCED_OPEN, bilingual("Forced open"), "safety"),
    AlarmKind.HELD_OPEN.value: _alarm(AlarmKind.HELD_OPEN, bilingual("Held open"), "problem"),
    AlarmKind.TAMPER.value: _alarm(AlarmKind.TAMPER, bilingual("Tamper"), "tamper"),
}

DEVICE_NAME = bilingual("Tool hut {hut}")
DEVICE_MODEL = "toolhut hut gateway"

# Three status intervals without a word (one lost message is no outage), and a margin for
# the uplink's one-second tick and the way through the broker: then the hut is unavailable.
EXPIRE_AFTER_INTERVALS = 3
EXPIRE_AFTER_MARGIN_S = 10


def expire_after_s(status_interval_s: float) -> int:
    """The ``expire_after`` of every entity, for a gateway publishing its status this often."""
    return math.ceil(status_interval_s * EXPIRE_AFTER_INTERVALS) + EXPIRE_AFTER_MARGIN_S


def entity_keys() -> tuple[str, ...]:
    return tuple(entity.key for entity in ENTITIES)


def discovery_messages(
    *,
    hut: str,
    topics: Topics,
    status_interval_s: float,
    firmware: str | None = None,
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX,
) -> list[DiscoveryMessage]:
    """The retained config messages that make this hut appear in Home Assistant.

    ``firmware``: the controller's, from its hello (None until then: no ``sw_version``)."""
    check_discovery_prefix(discovery_prefix)
    status_topic = topics.status(hut)
    node = node_id(hut)
    device: dict[str, Any] = {
        "identifiers": [node],
        "name": DEVICE_NAME.format(hut=hut),
        "manufacturer": "toolhut",
        "model": DEVICE_MODEL,
        # The device is the hut: its software is the controller's firmware; the gateway's
        # own version stands beside it (and in "origin", which says who announced it).
        "hw_version": f"gateway {__version__}",
    }
    if firmware is not None:
        device["sw_version"] = firmware
    expire_after = expire_after_s(status_interval_s)
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
            "expire_after": expire_after,
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
