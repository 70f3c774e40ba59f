"""The console's alarms page as a browser posts it: open alarms first, the other tabs
(anomalies, sequence gaps, dead letters) filtered and paged, acknowledge and resolve with a
note (a resolve without one refused beside the note; a step that no longer applies shows
the 409's text), a dead letter's payload for staff only, and a viewer refused."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from server.storage.ingest_models import SequenceGap
from server.storage.models import Anomaly, Hut, RejectedMessage
from server.storage.operations_models import Alarm
from tests.support.console import Console

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PAYLOAD = b'{"card":"04DEADBEEF"}'


def _seed(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions.begin() as db:
        db.add(Hut(id="hut-a", name="东门工具屋"))
        db.flush()
        forced = Alarm(
            hut_id="hut-a", kind="forced_open", source="controller", raised_at=AT,
            detail="door 1", updated_at=AT,
        )  # fmt: skip
        held = Alarm(
            hut_id="hut-a", kind="held_open", source="gateway",
            raised_at=AT - timedelta(hours=1), active=False, cleared_at=AT, updated_at=AT,
        )  # fmt: skip
        anomaly = Anomaly(hut_id="hut-a", kind="scan_by_nobody", detail="x", created_at=AT)
        gap = SequenceGap(hut_id="hut-a", kind="missing", first_seq=5, last_seq=7, detected_at=AT)
        letter = RejectedMessage(
            topic="t/v1/hut-a/events", payload=PAYLOAD,
            payload_sha256=hashlib.sha256(PAYLOAD).hexdigest(), payload_size=len(PAYLOAD),
            reason="bad_seal", received_at=AT,
        )  # fmt: skip
        db.add_all([forced, held, anomaly, gap, letter])
        db.flush()
        return {"forced": forced.id, "held": held.id, "anomaly": anomaly.id, "letter": letter.id}


def test_open_alarms_first_and_every_tab_lists(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ids = _seed(sessions)
    forced, held = f'id="alarms-{ids["forced"]}"', f'id="alarms-{ids["held"]}"'
    viewer = signed_in(Role.VIEWER)
    page = viewer.get("/console/alarms")
    assert page.status_code == 200
    assert page.text.index(forced) < page.text.index(held)  # open, newest first
    assert "未刷卡的扫描" in viewer.get("/console/alarms?tab=anomalies").text
    assert "5–7" in viewer.get("/console/alarms?tab=gaps").text
    letters = viewer.get("/console/alarms?tab=letters")
    assert "bad_seal" in letters.text and str(len(PAYLOAD)) in letters.text
    assert "04DEADBEEF" not in letters.text  # the payload is for staff only
    assert "确认收到" not in page.text  # a viewer is offered no review form
    kinds = viewer.get("/console/alarms?kind=held_open")
    assert held in kinds.text and forced not in kinds.text


def test_a_bad_filter_gives_the_page_with_a_message(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ids = _seed(sessions)
    viewer = signed_in(Role.VIEWER)
    page = viewer.get("/console/alarms?tab=nope&state=active&kind=boom&offset=-1")
    assert page.status_code == 422 and "Traceback" not in page.text
    assert f'id="alarms-{ids["forced"]}"' in page.text
    gaps = viewer.get("/console/alarms?tab=gaps&state=active")  # alarms only
    assert gaps.status_code == 422 and "5–7" in gaps.text


def test_staff_see_the_payload_and_acknowledge_then_resolve_with_a_note(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ids = _seed(sessions)
    staff = signed_in(Role.STAFF)
    assert "04DEADBEEF" in staff.get("/console/alarms?tab=letters").text
    staff.get("/console/alarms")
    path = f"/console/alarms/alarms/{ids['forced']}"
    assert staff.post(f"{path}/acknowledge", {"note": "去看看"}).status_code == 303
    refused = staff.post(f"{path}/resolve", {"note": "   "})
    assert refused.status_code == 422
    assert re.search(rf'id="e-note-{ids["forced"]}">请填写此项。<', refused.text)
    done = staff.post(f"{path}/resolve", {"note": "门锁已修好", "state": "all"})
    assert done.status_code == 303 and "state=all" in done.headers["location"]
    page = staff.get(done.headers["location"])
    assert "门锁已修好" in page.text and "已处理" in page.text
    again = staff.post(f"{path}/acknowledge", {"note": ""})
    assert again.status_code == 409 and "已处理完毕" in again.text
    with sessions() as db:
        alarm = db.get(Alarm, ids["forced"])
        assert alarm is not None and alarm.resolve_note == "门锁已修好"
    letter = f"/console/alarms/letters/{ids['letter']}/resolve"
    assert staff.post(letter, {"note": "测试消息"}).status_code == 303
    assert staff.post("/console/alarms/nope/1/resolve", {"note": "x"}).status_code == 404


def test_a_viewer_posting_a_review_anyway_gets_the_403_page(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ids = _seed(sessions)
    viewer = signed_in(Role.VIEWER)
    viewer.get("/console/alarms")
    answer = viewer.post(f"/console/alarms/alarms/{ids['forced']}/resolve", {"note": "x"})
    assert answer.status_code == 403 and "Traceback" not in answer.text
    with sessions() as db:
        alarm = db.get(Alarm, ids["forced"])
        assert alarm is not None and alarm.resolved_at is None
