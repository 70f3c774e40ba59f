"""Alarms end to end with real processes (server, gateway, emulator on a pseudo-terminal, a
real broker, a real webhook receiver as the staff channel): the door forced open at the
emulator reaches GET /api/v1/alarms and the staff channel within 10 s, once for the
incident however often it starts again, and staff acknowledge and resolve it; a
malformed event on the hut's topic shows up in the dead letters with its reason."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.receivers import WebhookReceiver, webhook_receiver
from tests.support.gateway_link import FakeGatewayLink
from tests.support.hut_stack import HUT, HutStack, hut_stack
from tests.support.processes import poll_until
from toolhut.contract import TopicKind, Topics

pytestmark = pytest.mark.e2e

TOLD_WITHIN = 10.0  # seconds from the door to the staff channel
ALARM_TITLES = ("工具屋告警 / Tool hut alarm",)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as found:
        yield found


def server_env(receiver: WebhookReceiver) -> dict[str, str]:
    reminders = {
        "channels": {"staff": f"{receiver.apprise_base}/staff"},
        "stock_alerts": False,  # the staff channel carries the alarms only, here
    }
    return {"TOOLHUT_SERVER_REMINDERS": json.dumps(reminders)}


def alarm_posts(receiver: WebhookReceiver, label: str) -> list[dict[str, Any]]:
    """The staff channel's alarm messages about ``label`` (an alarm's name)."""
    with receiver.lock:
        return [
            post
            for path, post in receiver.posts
            if path.startswith("/staff")
            and post["title"] in ALARM_TITLES
            and label in post["message"]
        ]


def alarms(stack: HutStack, query: str = "") -> list[dict[str, Any]]:
    return list(stack.staff(f"/api/v1/alarms?hut={HUT}{query}")["data"])


def the_alarm(stack: HutStack, kind: str) -> dict[str, Any] | None:
    return next((a for a in alarms(stack) if a["kind"] == kind), None)


def test_a_forced_open_reaches_the_api_and_the_staff_channel_once_and_is_resolved(
    tmp_path: Path, topic_prefix: str, receiver: WebhookReceiver
) -> None:
    with hut_stack(tmp_path, topic_prefix, server_env=server_env(receiver)) as stack:
        emulator = stack.emulator
        assert emulator is not None
        forced = "门被强行打开 / door forced open"
        started = time.monotonic()
        emulator.send("door open")  # no card, no unlock: the controller says forced open
        emulator.expect(r"^sent alarm kind=forced_open active=1")
        listed = poll_until(
            lambda: the_alarm(stack, "forced_open"), timeout=TOLD_WITHIN, what="the alarm listed"
        )
        [post] = poll_until(
            lambda: alarm_posts(receiver, forced), timeout=TOLD_WITHIN, what="the staff told"
        )
        assert time.monotonic() - started < TOLD_WITHIN
        hut_name = stack.staff(f"/api/v1/huts/{HUT}")["name"]  # staff read the hut's name
        assert f"alarm #{listed['id']}" in post["message"] and f"（{hut_name}）" in post["message"]
        assert (listed["active"], listed["state"], listed["source"]) == (True, "open", "controller")

        # The door shut, then forced again: the same incident, counted, not told again.
        emulator.send("door close")
        emulator.expect(r"^sent alarm kind=forced_open active=0")
        poll_until(
            lambda: (found := the_alarm(stack, "forced_open")) is not None and not found["active"],
            what="the forced open cleared",
        )
        emulator.send("door open")
        emulator.expect(r"^sent alarm kind=forced_open active=1")
        poll_until(
            lambda: (
                (found := the_alarm(stack, "forced_open")) is not None and found["repeats"] == 1
            ),
            what="the repeat counted",
        )
        # Later evidence that the notifier has looked again since: another incident, told.
        emulator.send("tamper")
        poll_until(
            lambda: alarm_posts(receiver, "设备被拆动 / tamper"),
            timeout=TOLD_WITHIN,
            what="the tamper told",
        )
        assert len(alarm_posts(receiver, forced)) == 1

        path = f"/api/v1/alarms/{listed['id']}"
        acked = stack.staff(f"{path}/acknowledge", method="POST", body={"note": "on my way"})
        assert acked["state"] == "acknowledged" and acked["acknowledged_by"]
        done = stack.staff(f"{path}/resolve", method="POST", body={"note": "door checked"})
        assert (done["state"], done["resolve_note"]) == ("resolved", "door checked")
        resolved = alarms(stack, "&state=resolved")
        assert [a["id"] for a in resolved] == [listed["id"]]
        emulator.send("door close")


def test_a_malformed_event_shows_up_in_the_dead_letters_with_its_reason(
    tmp_path: Path, topic_prefix: str, receiver: WebhookReceiver
) -> None:
    with hut_stack(tmp_path, topic_prefix, server_env=server_env(receiver)) as stack:
        topics = Topics(topic_prefix)
        link = FakeGatewayLink(stack.broker.url, topics, stack.keys.keyring)
        try:
            # Sealed with the hut's key, so it is the content that is refused: no seq.
            body = b'{"v":1,"id":"malformed-1","hut":"' + HUT.encode() + b'","type":"scan"}'
            payload = stack.key.seal(TopicKind.EVENTS, body)
            link.publish(topics.events(HUT), payload)

            def letter() -> dict[str, Any] | None:
                found = stack.staff(f"/api/v1/dead-letters?hut={HUT}")["data"]
                return next(iter(found), None)

            shown = poll_until(letter, timeout=TOLD_WITHIN, what="the dead letter listed")
        finally:
            link.close()
        assert shown["reason"].startswith("invalid event: ")
        assert shown["sha256"] == hashlib.sha256(payload).hexdigest()
        assert shown["size"] == len(payload) and shown["topic"] == topics.events(HUT)
        assert "malformed-1" in shown["payload_preview"]  # staff see what came
        resolved = stack.staff(
            f"/api/v1/dead-letters/{shown['id']}/resolve",
            method="POST",
            body={"note": "a test message"},
        )
        assert resolved["state"] == "resolved"
