"""What a Raspberry Pi gets: a fresh virtualenv with only the ``gateway`` extra runs the
gateway and the emulator, and has none of the server's libraries."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.install]

REPO = Path(__file__).resolve().parents[2]


def run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_gateway_extra_alone_runs_the_gateway_without_server_libraries(
    tmp_path: Path,
) -> None:
    env_dir = tmp_path / "pi-venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python, toolhut = env_dir / "bin" / "python", env_dir / "bin" / "toolhut"
    installed = run(python, "-m", "pip", "install", "-q", "-e", f"{REPO}[gateway]")
    if installed.returncode != 0 and "No matching distribution" in installed.stderr:
        pytest.skip(f"no package index reachable for pip: {installed.stderr[-300:]}")
    assert installed.returncode == 0, installed.stderr[-2000:]

    for command in ("gateway", "emulator"):
        shown = run(toolhut, command, "--help", timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert "usage: toolhut " + command in shown.stdout
    for module in ("fastapi", "sqlalchemy", "uvicorn"):
        probe = run(python, "-c", f"import {module}", timeout=60)
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, module
    for module in ("serial", "paho.mqtt.client", "pydantic_settings", "cryptography",
                   "hut_gateway.gateway"):  # fmt: skip
        probe = run(python, "-c", f"import {module}", timeout=60)
        assert probe.returncode == 0, (module, probe.stderr)
    assert sys.version_info >= (3, 11)
