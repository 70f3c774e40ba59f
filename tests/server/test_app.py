"""The whole server as the demo and the CLI run it: real HTTP, real broker, real signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server.app import ServerRuntime
from server.settings import ServerSettings
from toolhut.cli import main


def test_runtime_starts_serves_and_stops(tmp_path: Path, mqtt_url: str, topic_prefix: str) -> None:
    settings = ServerSettings(
        db_url=f"sqlite:///{tmp_path}/s.sqlite3",
        mqtt_url=mqtt_url,
        topic_prefix=topic_prefix,
        port=0,
    )
    runtime = ServerRuntime(settings)
    runtime.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            health = httpx.get(f"{runtime.base_url}/healthz").json()
            if health["mqtt"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert health == {"status": "ok", "db": True, "mqtt": True}
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
        "toolhut.cli",
        "server",
        "--db",
        f"sqlite:///{tmp_path}/p.sqlite3",
        "--mqtt",
        mqtt_url,
        "--port",
        "0",
        "--prefix",
        topic_prefix,
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
        assert httpx.get(f"{base}/healthz").json()["db"] is True
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
