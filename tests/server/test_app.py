"""The whole server as the demo and the CLI run it: real HTTP, real broker, real signals."""

from __future__ import annotations

import logging
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server.app import ServerRuntime
from server.settings import ServerSettings
from toolhut_cli.cli import main


def test_runtime_starts_serves_and_stops(
    tmp_path: Path, mqtt_url: str, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret_file = tmp_path / "data" / "server-secret"
    settings = ServerSettings(
        db_url=f"sqlite:///{tmp_path}/s.sqlite3",
        mqtt_url=mqtt_url,
        topic_prefix=topic_prefix,
        port=0,
        secret_file=secret_file,
    )
    runtime = ServerRuntime(settings)
    with caplog.at_level(logging.WARNING, logger="server.keys"):
        runtime.start()
    # No secret yet: a new random one, private, and a line that says where (not what).
    secret = secret_file.read_text().strip()
    assert len(bytes.fromhex(secret)) == 32
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert f"created a new server secret at {secret_file}" in caplog.text
    assert secret not in caplog.text
    try:
        assert httpx.get(f"{runtime.base_url}/healthz").json() == {"status": "alive"}
        deadline = time.monotonic() + 10
        while True:
            ready = httpx.get(f"{runtime.base_url}/readyz")
            if ready.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert ready.json()["checks"] == {"database": True, "broker": True, "migrations": True}
        assert httpx.get(f"{runtime.base_url}/api/v1/huts").json()["count"] == 0
    finally:
        runtime.stop()
    assert runtime.ingest is None


def test_cli_migrate_and_seed(tmp_path: Path, capsys: object) -> None:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    assert main(["server", "migrate", "--db", url]) == 0
    assert main(["server", "seed", "--db", url, "--hut", "hut-2"]) == 0
    assert main(["server", "seed", "--db", url, "--hut", "hut-2"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "20 rows added" in out and "0 rows added" in out
    assert main(["server", "seed", "--db", url, "--hut", "Bad Hut"]) == 2


def test_cli_server_stops_cleanly_on_sigterm(
    tmp_path: Path, mqtt_url: str, topic_prefix: str
) -> None:
    command = [
        sys.executable,
        "-m",
        "toolhut_cli.cli",
        "server",
        "--db",
        f"sqlite:///{tmp_path}/p.sqlite3",
        "--mqtt",
        mqtt_url,
        "--port",
        "0",
        "--prefix",
        topic_prefix,
        "--secret-file",
        str(tmp_path / "server-secret"),
    ]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        assert process.stderr is not None
        base = None
        for line in process.stderr:
            found = re.search(r"server listening on (http://\S+)", line)
            if found:
                base = found.group(1)
                break
        assert base, "server did not report its address"
        assert httpx.get(f"{base}/healthz").json() == {"status": "alive"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("content", [b"not a secret\n", b"00ff\n"], ids=["garbage", "short"])
def test_a_malformed_secret_file_stops_the_server_with_one_clear_line(
    tmp_path: Path, mqtt_url: str, content: bytes
) -> None:
    secret_file = tmp_path / "server-secret"
    secret_file.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "toolhut_cli.cli", "server", "--db", f"sqlite:///{tmp_path}/b.sqlite3",
         "--mqtt", mqtt_url, "--port", "0"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "TOOLHUT_SERVER_SECRET_FILE": str(secret_file)},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"toolhut server: secret file {secret_file} ")
    assert "Traceback" not in result.stderr
    assert secret_file.read_bytes() == content  # never replaced by a new one
    assert not (tmp_path / "b.sqlite3").exists()  # stopped before the database
