"""The Home Assistant MQTT discovery topics of a hut: which entities a gateway announces and
under which topic each one's config goes.

Both ends need them: the gateway publishes its discovery config there
(hut_gateway/homeassistant.py builds the payloads), and the server writes them into the
broker's ACL (server/broker_auth.py). Here, on the floor both stand on, neither has to
import the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolhut.contract import Topics

DEFAULT_DISCOVERY_PREFIX = "homeassistant"


@dataclass(frozen=True, slots=True)
class DiscoveryEntity:
    """One entity of a hut's device in Home Assistant."""

    component: str  # binary_sensor, sensor
    key: str


ENTITIES = (
    DiscoveryEntity("binary_sensor", "door"),
    DiscoveryEntity("binary_sensor", "lock"),
    DiscoveryEntity("binary_sensor", "controller"),
    # The alarms of the status, one entity each (the controller's or the gateway's).
    DiscoveryEntity("binary_sensor", "forced_open"),
    DiscoveryEntity("binary_sensor", "held_open"),
    DiscoveryEntity("binary_sensor", "tamper"),
    DiscoveryEntity("sensor", "outbox"),
    DiscoveryEntity("sensor", "uptime"),
)


def node_id(hut: str) -> str:
    """The hut's device id in Home Assistant, the node level of its discovery topics."""
    return f"toolhut_{hut}"


def discovery_topic(hut: str, entity: DiscoveryEntity, discovery_prefix: str) -> str:
    return f"{discovery_prefix}/{entity.component}/{node_id(hut)}/{entity.key}/config"


def discovery_topics(hut: str, discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX) -> list[str]:
    """Every discovery config topic of ``hut``, in the order of ``ENTITIES``."""
    check_discovery_prefix(discovery_prefix)
    return [discovery_topic(hut, entity, discovery_prefix) for entity in ENTITIES]


def check_discovery_prefix(discovery_prefix: str) -> None:
    """The same rules as for the contract's topic levels: raises ContractError."""
    Topics(discovery_prefix)
