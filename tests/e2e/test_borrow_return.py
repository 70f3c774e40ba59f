"""A borrow and a return travel from an emulated hut controller, over a real pseudo-terminal
and a real broker, into the server's ledger: four real processes, checked through the API.
So does a rating card scanned after the return (and one scanned before any return is
refused at the display, nothing recorded)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.hut_stack import StatusWatcher, visit
from tests.support.keys import TestKeys
from tests.support.processes import ToolhutProcess, http_json, poll_until, run_toolhut, wait_http
from tests.support.services import Broker
from toolhut.contract import Topics
from toolhut.hut_keys import HutCredentials
from toolhut.mqtt import make_client
from toolhut_cli.embedded_broker import free_port

pytestmark = pytest.mark.e2e

HUT = "demo-hut"
ZHANG = "04A1B2C3"  # 张阿姨, seeded by `toolhut server seed`
DRILL = "T0001"
SCREWDRIVERS = "T0007"  # 螺丝刀套装: rated here only (the PostgreSQL ledger is the session's)
STAFF_PASSWORD = "Ladder-Drill-Hut-42"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def hut(
    broker: Broker, topic_prefix: str, db_url: str, tmp_path: Path, keys: TestKeys
) -> Iterator[dict[str, Any]]:
    seeded = run_toolhut("server", "seed", "--db", db_url, "--hut", HUT)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    token = staff_token(db_url, tmp_path)
    port = free_port()
    procs: list[ToolhutProcess] = []
    watcher = StatusWatcher(broker.endpoint, Topics(topic_prefix), keys.key(HUT))
    try:
        server = ToolhutProcess(
            "server", "--db", db_url, "--mqtt", broker.url, "--prefix", topic_prefix,
            "--port", str(port),
            "--secret-file", str(keys.secret_file),
        )  # fmt: skip
        procs.append(server)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/readyz", procs=procs)

        link = tmp_path / "hut.tty"
        emulator = ToolhutProcess("emulator", "--link", str(link))
        procs.append(emulator)
        emulator.expect(r"^emulator: link ")

        # With a broker user and password, as `toolhut server mqtt-auth` writes them (the
        # test broker lets anyone in): the gateway uses them and must never print them.
        credentials = keys.credentials_file(HUT, broker_user=True)
        gateway = ToolhutProcess(
            "gateway", "--hut", HUT, "--serial", str(link), "--mqtt", broker.url,
            "--prefix", topic_prefix, "--data-dir", str(tmp_path / "gateway"),
            "--credentials", str(credentials),
        )  # fmt: skip
        procs.append(gateway)
        emulator.expect(r"^recv hello firmware=host-")
        # The gateway decides locally: wait until the server's allowlist reached it.
        poll_until(
            lambda: watcher.latest is not None and watcher.latest.allowlist is not None,
            timeout=20,
            what="gateway status with an allowlist",
        )
        yield {
            "base": base, "emulator": emulator, "gateway": gateway, "server": server,
            "credentials": credentials, "secret": keys.secret, "key": keys.key(HUT),
            "staff": {"Authorization": f"Bearer {token}"}, "token": token,
        }  # fmt: skip
    finally:
        watcher.stop()
        for proc in reversed(procs):
            proc.stop()


def staff_token(db_url: str, tmp_path: Path) -> str:
    """A staff account and its API token, made as an operator would: with the CLI (a
    name of its own: the PostgreSQL database is the session's, shared by the tests)."""
    username = f"e2e-{uuid.uuid4().hex[:8]}"
    password_file = tmp_path / "staff-password"
    password_file.write_text(STAFF_PASSWORD + "\n", encoding="utf-8")
    created = run_toolhut(
        "server", "create-user", "--db", db_url, "--username", username, "--role", "staff",
        "--password-file", str(password_file),
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    assert STAFF_PASSWORD not in created.stdout + created.stderr
    issued = run_toolhut(
        "server", "token", "create", "--db", db_url, "--username", username, "--name", "e2e"
    )
    assert issued.returncode == 0, issued.stdout + issued.stderr
    found = re.search(r"(thk_\S+)", issued.stdout)
    assert found is not None, issued.stdout
    return found.group(1)


def staff(hut: dict[str, Any], url: str) -> Any:
    return http_json(url, headers=hut["staff"])


def item(hut: dict[str, Any], tag: str) -> dict[str, Any]:
    items = staff(hut, f"{hut['base']}/api/v1/items")["data"]
    return next(i for i in items if i["tag"] == tag)


def ratings(hut: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The hut's ratings as staff read them, by id (on PostgreSQL, earlier tests' too)."""
    rows = staff(hut, f"{hut['base']}/api/v1/ratings?hut={HUT}&limit=100")["data"]
    return {row["id"]: row for row in rows}


def test_borrow_then_return_through_every_process(hut: dict[str, Any]) -> None:
    base, emulator = hut["base"], hut["emulator"]
    assert item(hut, DRILL)["status"] == "available"

    emulator.send(f"card {ZHANG}")
    emulator.expect(r"^recv unlock pulse_ms=\d+")
    emulator.expect(r"^recv feedback beep=ok text=")
    emulator.send("door open")

    emulator.send(f"scan {DRILL}")
    borrowed = emulator.expect(r'^recv feedback beep=(\w+) text="(.*)"')
    assert borrowed.group(1) == "ok", borrowed.group(0)
    assert "借" in borrowed.group(2)
    on_loan = item(hut, DRILL)
    assert on_loan["status"] == "on_loan"
    assert on_loan["borrower"]["name"] == "张阿姨"
    assert on_loan["due_at"]
    open_loans = staff(hut, f"{base}/api/v1/loans?status=open")["data"]
    assert [loan["tag"] for loan in open_loans] == [DRILL]
    assert open_loans[0]["borrower"]["name"] == "张阿姨"
    # The public view shows the status and due date, never who has it.
    public = http_json(f"{base}/api/v1/items")["data"]
    assert next(i for i in public if i["tag"] == DRILL).get("borrower") is None

    # The same label scanned again in the session brings the drill back.
    emulator.send(f"scan {DRILL}")
    returned = emulator.expect(r'^recv feedback beep=(\w+) text="(.*)"')
    assert returned.group(1) == "ok", returned.group(0)
    assert "还" in returned.group(2)
    emulator.send("door close")
    assert item(hut, DRILL)["status"] == "available"
    assert staff(hut, f"{base}/api/v1/loans?status=open")["data"] == []

    # A card UID is a credential: no log line of the server or the gateway names it.
    server, gateway = hut["server"], hut["gateway"]
    poll_until(
        lambda: sum(f"scan '{DRILL}'" in line for line in server.lines) >= 2,
        timeout=20,
        what="the server's log lines of both scans",
    )
    poll_until(
        lambda: any("card admitted" in line for line in gateway.lines),
        timeout=20,
        what="the gateway's log line of the card",
    )
    for proc in (server, gateway):
        assert not [line for line in proc.lines if ZHANG in line.upper()], proc.lines
        assert not [line for line in proc.lines if ZHANG[:6] in line.upper()], proc.lines


def test_no_secret_reaches_the_output_of_the_server_or_the_gateway(hut: dict[str, Any]) -> None:
    emulator, gateway, server = hut["emulator"], hut["gateway"], hut["server"]
    emulator.send(f"card {ZHANG}")
    emulator.expect(r"^recv unlock")
    poll_until(lambda: any("card admitted" in line for line in gateway.lines), timeout=20,
               what="the gateway's log line of the card")  # fmt: skip
    credentials = HutCredentials.load(hut["credentials"])
    assert credentials.mqtt_password and credentials.mqtt_username == f"hut.{HUT}"
    secrets = [credentials.mqtt_password, credentials.key.hex(), hut["secret"].hex(),
               hut["key"].mac_key.hex(), hut["key"].card_key.hex(), hut["token"]]  # fmt: skip
    shown = run_toolhut(
        "gateway", "--hut", HUT, "--serial", "/dev/x", "--credentials", str(hut["credentials"]),
        "--mqtt", "mqtt://someone:url-password@127.0.0.1:1", "--check-config",
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "url-password" not in shown.stdout + shown.stderr
    for text in ("\n".join(gateway.lines), "\n".join(server.lines), shown.stdout + shown.stderr):
        for secret in secrets:
            assert secret.lower() not in text.lower()


def test_unknown_card_gets_no_unlock_and_an_error_beep(hut: dict[str, Any]) -> None:
    emulator = hut["emulator"]
    emulator.send("card DEADBEEF99")
    emulator.expect(r"^recv feedback beep=error")
    emulator.send(f"card {ZHANG}")
    emulator.expect(r"^recv unlock")
    # Nothing but the second card's unlock reached the controller in between.
    assert sum("recv unlock" in line for line in emulator.lines) == 1


def test_unknown_label_in_a_session_gets_an_error_and_changes_nothing(hut: dict[str, Any]) -> None:
    base, emulator = hut["base"], hut["emulator"]
    before = staff(hut, f"{base}/api/v1/items")["data"]
    emulator.send(f"card {ZHANG}")
    emulator.expect(r"^recv unlock")
    emulator.expect(r"^recv feedback beep=ok")  # the welcome
    emulator.send("scan 这不是我们的标签 not ours")
    reply = emulator.expect(r'^recv feedback beep=(\w+) text="(.*)"')
    assert reply.group(1) == "error"
    assert staff(hut, f"{base}/api/v1/items")["data"] == before


def test_malformed_payloads_are_rejected_and_the_server_keeps_working(
    hut: dict[str, Any], broker: Broker, topic_prefix: str
) -> None:
    base, emulator, server = hut["base"], hut["emulator"], hut["server"]
    topics = Topics(topic_prefix)
    before = staff(hut, f"{base}/api/v1/items")["data"]
    client = make_client(broker.endpoint, client_id=f"garbage-{topic_prefix}")
    client.connect(broker.endpoint.host, broker.endpoint.port)
    client.loop_start()
    try:
        client.publish(topics.events(HUT), b"{this is not json", qos=1).wait_for_publish(5)
        client.publish(topics.events("no-such-hut"), b'{"v":1}', qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()
    server.expect(rf"rejected message on {topics.events(HUT)}")
    server.expect(r"rejected message on .*/no-such-hut/events")

    # Nothing changed, the server is alive, and the next borrow goes through.
    assert staff(hut, f"{base}/api/v1/items")["data"] == before
    emulator.send(f"card {ZHANG}")
    emulator.expect(r"^recv unlock")
    emulator.expect(r"^recv feedback beep=ok")
    emulator.send("scan T0002")
    assert emulator.expect(r"^recv feedback beep=(\w+)").group(1) == "ok"
    assert item(hut, "T0002")["status"] == "on_loan"


def test_a_rating_card_after_the_return_is_thanked_and_recorded(hut: dict[str, Any]) -> None:
    emulator = hut["emulator"]
    before = ratings(hut)
    [(beep, text)] = visit(emulator, ZHANG, SCREWDRIVERS)
    assert beep == "ok" and "借" in text, text
    # At the next visit she brings it back and scans the "not satisfied" card after it.
    returned, rated = visit(emulator, ZHANG, SCREWDRIVERS, "RATE:BAD")
    assert returned[0] == "ok" and "还" in returned[1], returned
    assert rated == ("ok", "谢谢评价 螺丝刀套装"), rated
    new = [row for rating_id, row in ratings(hut).items() if rating_id not in before]
    assert [(r["item"], r["hut_id"], r["source"], r["score"]) for r in new] == [
        (SCREWDRIVERS, HUT, "hut", 1)
    ]
    assert new[0]["member_name"] == "张阿姨" and new[0]["comment"] == ""


def test_a_rating_card_without_a_return_in_the_session_is_refused(hut: dict[str, Any]) -> None:
    emulator = hut["emulator"]
    before = ratings(hut)
    refusal = ("error", "请先归还物品，再扫评价卡")
    # Straight after her card; then after a borrow, which is no return either.
    assert visit(emulator, ZHANG, "RATE:1") == [refusal]
    lent, refused = visit(emulator, ZHANG, SCREWDRIVERS, "RATE:1")
    assert lent[0] == "ok" and "借" in lent[1], lent
    assert refused == refusal
    assert ratings(hut) == before
    # Back on the shelf for the next test on the session's PostgreSQL ledger.
    [(beep, text)] = visit(emulator, ZHANG, SCREWDRIVERS)
    assert beep == "ok" and "还" in text, text
    assert item(hut, SCREWDRIVERS)["status"] == "available"
