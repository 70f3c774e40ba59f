"""The README's main job: `toolhut demo` as a person runs it, driven at its prompt."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.processes import ToolhutProcess, http_json, wait_http
from tests.support.services import Broker
from toolhut.embedded_broker import free_port

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_lends_a_drill_at_its_prompt_and_stops_cleanly(
    tmp_path: Path, broker: Broker, stop: signal.Signals
) -> None:
    port = free_port()
    demo = ToolhutProcess(
        "demo", "--port", str(port), "--data-dir", str(tmp_path / "demo"), "--mqtt", broker.url
    )
    try:
        demo.expect(r"Tool hut demo is running", timeout=30)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", procs=[demo])
        demo.send("card 04A1B2C3")
        demo.expect(r"\[hut\] recv unlock")
        demo.send("door open")
        demo.send("scan T0001")
        reply = demo.expect(r'\[hut\] recv feedback beep=ok text="(已借出 电钻[^"]*)"')
        assert "还期" in reply.group(1)
        items = {i["tag"]: i for i in http_json(f"{base}/api/v1/items")["data"]}
        assert items["T0001"]["status"] == "on_loan"
        demo.send("no such command")
        demo.expect(r"\[hut\] error: unknown command")
        demo.proc.send_signal(stop)
        assert demo.proc.wait(20) == 0
        assert "Stopped." in demo.lines
    finally:
        demo.stop()
