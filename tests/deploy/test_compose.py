"""docker-compose.yml against the Compose Specification's schema: no Docker engine runs on CI
machines, so this is the check that the file is a valid Compose file at all."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft201909Validator:
    # The schema names its draft by a URL jsonschema does not know; say it explicitly.
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
    return jsonschema.Draft201909Validator(schema)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_follows_the_compose_specification(
    compose: dict, validator: jsonschema.Draft201909Validator
) -> None:
    validator.validate(compose)


def test_a_broken_compose_file_is_caught(
    compose: dict, validator: jsonschema.Draft201909Validator
) -> None:
    broken = {**compose, "services": {**compose["services"], "server": {"imagee": "typo"}}}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_full_stack_services_and_wiring(compose: dict) -> None:
    services = compose["services"]
    assert {"mosquitto", "postgres", "server", "hut"} <= services.keys()
    assert "mqtt://mosquitto:1883" in services["server"]["environment"].values()
    assert "mqtt://mosquitto:1883" in services["hut"]["environment"].values()
    # Every file the stack mounts or builds from exists in the repository.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    assert (ROOT / "Dockerfile").exists()


def test_no_staff_token_is_shipped(compose: dict) -> None:
    # Compose refuses to start without one (${VAR:?message}); the server refuses placeholders.
    token = compose["services"]["server"]["environment"]["TOOLHUT_SERVER_STAFF_TOKEN"]
    assert token.startswith("${TOOLHUT_STAFF_TOKEN:?"), token
    assert "change-me" not in (ROOT / "docker-compose.yml").read_text()
