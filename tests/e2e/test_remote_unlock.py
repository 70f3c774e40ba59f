"""Acting on a hut remotely, through every real process (``toolhut server``, ``toolhut
emulator`` on a pty, ``toolhut gateway``, Mosquitto): staff unlock the door through the API
for a resident whose card does not work, the emulator's lock is released, the API shows the
command done and the drill the resident scans is lent to them; an unlock that reaches the
hut after its expiry (held while the gateway was away, delivered late) is not carried out:
the emulator never sees the Unlock frame, and the API shows it expired."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_access import FEEDBACK, LI, member_of
from tests.support.hut_stack import HUT, HutStack, hut_stack
from tests.support.processes import poll_until
from toolhut.contract import Command, ContractError, Topics, parse_command, utc_now
from toolhut.hut_keys import HutKey
from toolhut.mqtt import MqttEndpoint, make_client

pytestmark = pytest.mark.e2e

REPORT_TIMEOUT = 20.0


class CommandTap:
    """Every command the server publishes to the hut, sealed as it went out (a broker that
    holds one for a gateway away hands over these bytes)."""

    def __init__(self, endpoint: MqttEndpoint, topics: Topics, key: HutKey) -> None:
        self._key = key
        self._topic = topics.cmd(key.hut)
        self._lock = threading.Lock()
        self.seen: dict[str, tuple[Command, bytes]] = {}
        subscribed = threading.Event()
        self._client = make_client(endpoint, client_id=f"tap-{topics.prefix}-{key.hut}")
        self._client.on_connect = lambda c, *_: c.subscribe(self._topic, qos=1)
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(endpoint.host, endpoint.port)
        self._client.loop_start()
        assert subscribed.wait(10), "the command tap did not subscribe"

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            command = parse_command(message.payload, key=self._key)
        except ContractError:
            return
        with self._lock:
            self.seen[command.id] = (command, bytes(message.payload))

    def wait(self, command_id: str) -> tuple[Command, bytes]:
        def found() -> tuple[Command, bytes] | None:
            with self._lock:
                return self.seen.get(command_id)

        result: tuple[Command, bytes] = poll_until(found, what=f"command {command_id} published")
        return result

    def deliver_late(self, payload: bytes) -> None:
        self._client.publish(self._topic, payload, qos=1).wait_for_publish(10)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _status(stack: HutStack, command_id: str, wanted: str) -> dict[str, Any]:
    def shown() -> dict[str, Any] | None:
        command: dict[str, Any] = stack.staff(f"/api/v1/commands/{command_id}")
        return command if command["status"] == wanted else None

    found: dict[str, Any] = poll_until(shown, timeout=REPORT_TIMEOUT, what=f"command {wanted}")
    return found


def _unlocks(stack: HutStack) -> int:
    assert stack.emulator is not None
    return sum("recv unlock" in line for line in stack.emulator.lines)


def test_a_remote_unlock_reaches_the_emulator_and_one_that_expired_does_not(
    tmp_path: Path, topic_prefix: str
) -> None:
    with hut_stack(tmp_path, topic_prefix) as stack:
        emulator = stack.emulator
        assert emulator is not None
        li = member_of(stack, LI)
        sent = stack.staff(
            f"/api/v1/huts/{HUT}/commands", method="POST",
            body={"action": "unlock", "reason": "卡坏了 / card broken", "member_id": li},
        )  # fmt: skip
        assert sent["status"] == "pending"
        emulator.expect(r"^lock released for ")
        done = _status(stack, sent["id"], "done")
        assert done["outcome_at"] is not None and done["detail"] is None

        # 李师傅 takes the drill: the visit is theirs although no card was tapped.
        emulator.send("door open")
        emulator.send("scan T0001")
        assert emulator.expect(FEEDBACK).group(2).startswith("已借出 电钻")
        emulator.send("door close")
        drill = poll_until(
            lambda: (item := stack.item("T0001"))["status"] == "on_loan" and item,
            what="the drill on loan",
        )
        assert drill["borrower"]["member_id"] == li

        # A stale unlock: published while the gateway is away, delivered after its expiry.
        tap = CommandTap(stack.broker.endpoint, Topics(topic_prefix), stack.key)
        try:
            assert stack.gateway is not None
            stack.gateway.stop()
            stack.gateway = None
            stale = stack.staff(
                f"/api/v1/huts/{HUT}/commands", method="POST",
                body={"action": "unlock", "reason": "test", "expires_in_s": 5},
            )  # fmt: skip
            command, payload = tap.wait(stale["id"])
            poll_until(lambda: utc_now() >= command.expires, what="the unlock's expiry passed")
            restarted = utc_now()
            stack.start_gateway()
            poll_until(
                lambda: (
                    (status := stack.watcher.latest) is not None
                    and status.ts is not None
                    and status.ts >= restarted
                ),
                timeout=REPORT_TIMEOUT,
                what="the gateway online again (it subscribes to its commands first)",
            )
            before = _unlocks(stack)
            tap.deliver_late(payload)
            expired = _status(stack, stale["id"], "expired")
        finally:
            tap.stop()
        assert expired["detail"] is not None and "expiry" in expired["detail"]
        assert _unlocks(stack) == before  # the report went out after the decision: no unlock
        assert stack.staff(f"/api/v1/commands/{sent['id']}")["status"] == "done"
