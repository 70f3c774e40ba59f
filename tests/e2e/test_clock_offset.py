"""A reminder days away, seen in seconds: a real ``toolhut server`` with its clock offset
enabled, a drill borrowed at the emulated hut, the clock moved past the due date through
the API, and the overdue reminder at a real webhook receiver (and on the hut's display at
the next card tap) long before the scheduler's interval. Without the setting the command
line refuses an offset."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.clock_settings import ENABLED_ENV
from server.domain.roles import Role
from server.storage import make_engine, make_sessionmaker
from tests.server.receivers import WebhookReceiver, webhook_receiver
from tests.support.hut_stack import StatusWatcher
from tests.support.keys import TestKeys
from tests.support.processes import ToolhutProcess, http_json, poll_until, run_toolhut, wait_http
from tests.support.services import Broker
from tests.support.staff_auth import staff_headers
from toolhut.contract import Topics
from toolhut_cli.embedded_broker import free_port

pytestmark = pytest.mark.e2e

ZHANG = "04A1B2C3"  # 张阿姨, seeded by `toolhut server seed`
DRILL = "T0001"  # 电钻, power tools: a three-day loan
DEADLINE_S = 30.0  # far below the scheduler's 300 s interval: only a wake-up explains it


def _server_env(receiver: WebhookReceiver) -> dict[str, str]:
    return {
        ENABLED_ENV: "true",
        "TOOLHUT_SERVER_REMINDERS__CHANNELS": json.dumps(
            {"webhook": f"{receiver.apprise_base}/member"}
        ),
        # Whatever the hour the suite runs at: no quiet hours to wait out.
        "TOOLHUT_SERVER_REMINDERS__QUIET_START": "00:00",
        "TOOLHUT_SERVER_REMINDERS__QUIET_END": "00:00",
        "TOOLHUT_SERVER_REMINDERS__STOCK_ALERTS": "false",
    }


@pytest.fixture
def hut(
    broker: Broker, topic_prefix: str, tmp_path: Path, keys: TestKeys
) -> Iterator[dict[str, Any]]:
    hut_id = f"clock-{uuid.uuid4().hex[:8]}"
    db_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    seeded = run_toolhut("server", "seed", "--db", db_url, "--hut", hut_id)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    engine = make_engine(db_url)
    try:
        admin = staff_headers(make_sessionmaker(engine), Role.ADMIN)
    finally:
        engine.dispose()
    port = free_port()
    procs: list[ToolhutProcess] = []
    watcher = StatusWatcher(broker.endpoint, Topics(topic_prefix), keys.key(hut_id))
    with webhook_receiver() as receiver:
        try:
            server = ToolhutProcess(
                "server", "--db", db_url, "--mqtt", broker.url, "--prefix", topic_prefix,
                "--port", str(port), "--secret-file", str(keys.secret_file),
                env=_server_env(receiver),
            )  # fmt: skip
            procs.append(server)
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz", procs=procs)
            link = tmp_path / "hut.tty"
            emulator = ToolhutProcess("emulator", "--link", str(link))
            procs.append(emulator)
            emulator.expect(r"^emulator: link ")
            gateway = ToolhutProcess(
                "gateway", "--hut", hut_id, "--serial", str(link), "--mqtt", broker.url,
                "--prefix", topic_prefix, "--data-dir", str(tmp_path / "gateway"),
                "--credentials", str(keys.credentials_file(hut_id)),
            )  # fmt: skip
            procs.append(gateway)
            emulator.expect(r"^recv hello firmware=host-")
            poll_until(
                lambda: watcher.latest is not None and watcher.latest.allowlist is not None,
                timeout=20,
                what="gateway status with an allowlist",
            )
            yield {
                "base": base, "admin": admin, "server": server, "emulator": emulator,
                "receiver": receiver,
            }  # fmt: skip
        finally:
            watcher.stop()
            for proc in reversed(procs):
                proc.stop()


def _bodies(receiver: WebhookReceiver) -> list[str]:
    with receiver.lock:
        return [post["message"] for _, post in receiver.posts]


def test_moving_the_clock_past_the_due_date_sends_the_reminder_at_once(
    hut: dict[str, Any],
) -> None:
    base, emulator, server = hut["base"], hut["emulator"], hut["server"]
    receiver: WebhookReceiver = hut["receiver"]
    server.expect(r"WARNING .*this server's clock can be moved", timeout=5)

    emulator.send(f"card {ZHANG}")
    emulator.expect(r"^recv unlock pulse_ms=\d+")
    emulator.expect(r"^recv feedback beep=ok text=")
    emulator.send("door open")
    emulator.send(f"scan {DRILL}")
    borrowed = emulator.expect(r'^recv feedback beep=(\w+) text="(.*)"')
    assert borrowed.group(1) == "ok" and "电钻" in borrowed.group(2), borrowed.group(0)
    emulator.send("door close")

    clock = f"{base}/api/v1/clock"
    before = http_json(clock, headers=hut["admin"])
    assert before["offset_s"] == 0
    assert _bodies(receiver) == []  # three days to go: nothing to tell

    moved = http_json(clock, headers=hut["admin"], method="POST", body={"advance": "4d"})
    assert moved["offset"] == "4d"
    bodies = poll_until(
        lambda: [b for b in _bodies(receiver) if "电钻" in b],
        timeout=DEADLINE_S,
        what="the drill's overdue reminder at the webhook",
    )
    assert len(bodies) == 1 and "已逾期 1 天" in bodies[0], bodies
    overdue = http_json(f"{base}/api/v1/loans?status=overdue")["data"]
    assert [loan["tag"] for loan in overdue] == [DRILL]

    # The hut display's line of the same reminder comes with her next card tap: after the
    # gateway's own welcome, on the ack of the card event.
    emulator.send(f"card {ZHANG}")
    emulator.expect(r"^recv unlock pulse_ms=\d+")
    emulator.expect(r'^recv feedback beep=ok text="请开门取还物品"')
    emulator.expect(r'^recv feedback beep=ok text="请尽快归还电钻等1件"', timeout=20)


def test_the_command_line_refuses_an_offset_unless_enabled(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    refused = run_toolhut("server", "--db", db_url, "--clock-offset", "4d", timeout=30)
    assert refused.returncode != 0
    assert f"needs {ENABLED_ENV}=true" in refused.stderr, refused.stderr
    assert "服务器时钟不可移动" in refused.stderr
    assert not (tmp_path / "ledger.sqlite3").exists()  # refused before anything was touched
