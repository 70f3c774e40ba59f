"""Home Assistant's own MQTT discovery schema, asked by a Python that has Home Assistant.

Home Assistant pins its dependencies tightly, so it is not installed in the project's venv;
it goes into a venv of its own (docs/raspberry-pi.md, "Home Assistant", says how), and this
file runs there, with nothing of the project imported (stdlib and homeassistant only):

    HA_PYTHON validate < configs.json   -> the verdict of each config, as JSON
    HA_PYTHON describe                  -> the schema's keys and choices, as JSON

``validate`` reads ``[{"component": "binary_sensor", "config": {...}}, ...]`` and runs each
config through ``homeassistant.components.mqtt.<component>.DISCOVERY_SCHEMA``, the very
schema a discovery message meets in Home Assistant. That schema drops keys it does not know
without a word, so the verdict says which it dropped.

``describe`` writes what tests/data/homeassistant_mqtt_schema.json holds: for each component,
its keys, the choices of its device class (and state class, entity category), and the keys
of the device and origin blocks. The discovery tests check every payload against that file
without Home Assistant, and against Home Assistant itself when TOOLHUT_TEST_HA_PYTHON names
such a Python.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

COMPONENTS = ("binary_sensor", "sensor")


def _schema_of(validator: Any) -> Any:
    """The voluptuous Schema inside HA's ``vol.All(...)`` wrappers."""
    import voluptuous as vol

    if isinstance(validator, vol.Schema):
        return validator
    for inner in getattr(validator, "validators", ()):
        found = _schema_of(inner)
        if found is not None:
            return found
    return None


def validate(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import voluptuous as vol

    verdicts = []
    for item in items:
        module = importlib.import_module(f"homeassistant.components.mqtt.{item['component']}")
        config = item["config"]
        try:
            accepted = module.DISCOVERY_SCHEMA(config)
        except vol.Invalid as exc:
            verdicts.append({"ok": False, "error": str(exc), "dropped": []})
            continue
        dropped = sorted(set(config) - set(accepted))
        verdicts.append({"ok": True, "error": None, "dropped": dropped})
    return verdicts


def describe() -> dict[str, Any]:
    from homeassistant.components.binary_sensor import BinarySensorDeviceClass
    from homeassistant.components.mqtt import mixins
    from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
    from homeassistant.const import EntityCategory, __version__

    components: dict[str, Any] = {}
    for component in COMPONENTS:
        module = importlib.import_module(f"homeassistant.components.mqtt.{component}")
        schema = _schema_of(module.DISCOVERY_SCHEMA)
        components[component] = {"keys": sorted(str(key) for key in schema.schema)}
    components["binary_sensor"]["device_class"] = sorted(c.value for c in BinarySensorDeviceClass)
    components["sensor"]["device_class"] = sorted(c.value for c in SensorDeviceClass)
    components["sensor"]["state_class"] = sorted(c.value for c in SensorStateClass)
    device = _schema_of(mixins.MQTT_ENTITY_DEVICE_INFO_SCHEMA)
    origin = _schema_of(mixins.MQTT_ORIGIN_INFO_SCHEMA)
    return {
        "homeassistant": __version__,
        "components": components,
        "entity_category": sorted(c.value for c in EntityCategory),
        "device_keys": sorted(str(key) for key in device.schema),
        "origin_keys": sorted(str(key) for key in origin.schema),
    }


def main(argv: list[str]) -> int:
    if argv[1:] == ["validate"]:
        json.dump(validate(json.load(sys.stdin)), sys.stdout)
    elif argv[1:] == ["describe"]:
        json.dump(describe(), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
