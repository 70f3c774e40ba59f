"""A hut going offline and coming back, as the staff API tells it, with real processes
(broker, server, emulator, gateway): a gateway killed (SIGKILL: only the broker's last
will tells), and a gateway that hangs with its connection alive (SIGSTOP: no last will,
only the server's staleness tick tells), each started or woken again."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.support.hut_stack import HUT, HutStack, hut_stack
from tests.support.processes import poll_until

pytestmark = pytest.mark.e2e

STALE_S = 8  # above the gateway's 5 s status interval, below the broker's 45 s keepalive
SERVER_ENV = {"TOOLHUT_SERVER_HUT_STATE__STALE_S": str(STALE_S)}
GATEWAY_ENV = {"TOOLHUT_GATEWAY_STATUS_INTERVAL_S": "5"}


def _state(stack: HutStack) -> Any:
    return stack.staff(f"/api/v1/huts/{HUT}/state")


def _until_online(stack: HutStack, online: bool, *, timeout: float, what: str) -> Any:
    return poll_until(
        lambda: (state := _state(stack))["online"] is online and state,
        timeout=timeout,
        what=what,
    )


def test_a_killed_gateway_goes_offline_and_comes_back_online(
    tmp_path: Path, topic_prefix: str
) -> None:
    with hut_stack(tmp_path, topic_prefix, gateway_env=GATEWAY_ENV) as stack:
        up = _until_online(stack, True, timeout=20, what="the hut online in the API")
        assert up["controller"] == "ok" and up["firmware"]
        assert up["allowlist_version"] is not None
        listed = {hut["id"]: hut for hut in stack.staff("/api/v1/huts")["data"]}
        assert listed[HUT]["state"]["online"] is True

        stack.kill_gateway()
        down = _until_online(stack, False, timeout=15, what="the hut offline after the kill")
        assert down["since"] > up["since"]
        assert down["firmware"] == up["firmware"]  # as it last reported

        stack.start_gateway(env=GATEWAY_ENV)
        back = _until_online(stack, True, timeout=20, what="the hut online again")
        assert back["since"] > down["since"]


def test_a_hung_gateway_is_marked_offline_by_staleness_and_comes_back(
    tmp_path: Path, topic_prefix: str
) -> None:
    with hut_stack(tmp_path, topic_prefix, server_env=SERVER_ENV, gateway_env=GATEWAY_ENV) as stack:
        _until_online(stack, True, timeout=20, what="the hut online in the API")
        assert stack.gateway is not None
        gateway = stack.gateway.proc
        gateway.send_signal(signal.SIGSTOP)  # alive to the broker, silent to everyone
        try:
            down = _until_online(
                stack, False, timeout=STALE_S + 15, what="the hung hut marked offline"
            )
            # No last will came: the broker still holds the hut's "online" status.
            assert stack.watcher.latest is not None
            assert stack.watcher.latest.state == "online"
        finally:
            gateway.send_signal(signal.SIGCONT)
        back = _until_online(stack, True, timeout=20, what="the woken hut online again")
        assert back["since"] > down["since"]
