"""A resident rates what they brought back from their phone, on SQLite and PostgreSQL: the
form on /me ("just brought back", unrated returns only) and on each history row inside
the 30 days, filled with the rating given, which a later one replaces; a low score with a
comment is an anomaly for staff; after the window only the rating given shows. Every
refusal says why on the page and writes nothing; another member's loan is refused. The
rating is in the member's personal data, and erasure blanks its comment wherever it was
kept, the score staying."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.actors import Actor
from server.domain.ledger_state import AnomalyKind
from server.domain.model import RatingSource
from server.records import member_privacy, members
from server.storage.audit import Stamp
from server.storage.models import Anomaly, Item, Loan
from server.storage.rating_models import LoanRating
from server.storage.staff_models import AuditEntry
from tests.server.conftest import MovableClock
from tests.server.web.resident_phone import LI, ZHANG, DemoHut, member_of, signed_in_phone
from tests.support.console import Console

FORM = 'action="/me/rating"'
COMMENT = "钻头松了，差点伤到手，住3-201"


def _last_loan(sessions: sessionmaker[Session], tag: str) -> int:
    with sessions() as db:
        return (
            db.scalars(
                select(Loan.id)
                .join(Item, Loan.item_id == Item.id)
                .where(Item.tag == tag)
                .order_by(Loan.id.desc())
            ).first()
            or 0
        )


def _ratings(sessions: sessionmaker[Session]) -> list[tuple[int, int, str, RatingSource]]:
    with sessions() as db:
        rows = db.scalars(select(LoanRating).order_by(LoanRating.id))
        return [(r.loan_id, r.score, r.comment, r.source) for r in rows]


def _written(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """How many ratings and rating audit entries there are."""
    with sessions() as db:
        entries = select(func.count()).where(AuditEntry.action == "loan.rating")
        return len(_ratings(sessions)), db.scalar(entries) or 0


def _drill_back(hut: DemoHut, clock: MovableClock) -> None:
    clock.advance(timedelta(hours=2))
    hut.scan("T0001", ZHANG)  # 张阿姨 brings the drill back


def test_a_return_is_rated_from_me_then_changed_from_the_history_until_the_window_ends(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    zhang = signed_in_phone(browser, sessions, clock, ZHANG)
    assert "刚刚归还" not in zhang.get("/me").text  # nothing brought back yet
    _drill_back(hut, clock)
    drill = _last_loan(sessions, "T0001")
    mine = zhang.get("/me").text
    assert "刚刚归还" in mine and FORM in mine and f'name="loan" value="{drill}"' in mine
    for word in ("满意", "一般", "不满意"):
        assert f">{word}</button>" in mine
    assert 'aria-label="满意: 电钻"' in mine and 'aria-label="4分: 电钻"' in mine
    assert 'href="/me/history"' in mine
    history = zhang.get("/me/history").text
    assert f'id="loan-{drill}"' in history and FORM in history
    assert 'name="from" value="history"' in history

    clock.advance(timedelta(minutes=5))
    rated = zhang.post("/me/rating", {"loan": str(drill), "score": "5", "comment": ""}, page="/me")
    assert rated.status_code == 303 and rated.headers["location"] == "/me?done=rated"
    assert _ratings(sessions) == [(drill, 5, "", RatingSource.PHONE)]
    with sessions() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "loan.rating")).one()
        assert entry.actor == f"member:{member_of(sessions, ZHANG)}" and entry.user_id is None
    after = zhang.get("/me?done=rated").text
    assert "谢谢！您的评价已保存。" in after
    assert "刚刚归还" not in after and FORM not in after  # rated: not on the receipt again
    history = zhang.get("/me/history").text
    assert "您的评价：满意" in history and FORM in history  # it may still be changed
    zhang.client.cookies.set("toolhut_lang", "en")  # English beside
    english = zhang.get("/me/history").text
    assert "Your rating: Satisfied" in english and "Change your rating of Power drill" in english
    zhang.client.cookies.delete("toolhut_lang")

    again = {"loan": str(drill), "score": "1", "comment": COMMENT, "from": "history"}
    changed = zhang.post("/me/rating", again | {"offset": "0"}, page="/me/history")
    assert changed.status_code == 303
    assert changed.headers["location"] == f"/me/history?done=rated#loan-{drill}"
    assert _ratings(sessions) == [(drill, 1, COMMENT, RatingSource.PHONE)]  # replaced
    with sessions() as db:
        anomaly = db.scalars(select(Anomaly)).one()
        assert anomaly.kind == AnomalyKind.LOW_RATING.value and COMMENT in anomaly.detail
        assert anomaly.member_id == member_of(sessions, ZHANG)
    history = zhang.get("/me/history?done=rated").text
    assert "谢谢！您的评价已保存。" in history and "您的评价：不满意" in history
    assert f">{COMMENT}</textarea>" in history  # the form is filled with it
    four = zhang.post("/me/rating", {"loan": str(drill), "score": "4"}, page="/me")
    assert four.status_code == 303 and _ratings(sessions)[0][1:3] == (4, "")
    assert "您的评价：4分（满分5分）" in zhang.get("/me/history").text

    clock.advance(timedelta(days=31))  # the window is over: the rating, no form
    zhang = signed_in_phone(browser, sessions, clock, ZHANG)  # a new sign-in by then
    late = zhang.get("/me/history").text
    assert "您的评价：4分（满分5分）" in late and FORM not in late
    too_late = zhang.post("/me/rating", {"loan": str(drill), "score": "5"}, page="/me")
    assert too_late.status_code == 409 and "归还后30天内才能评价" in too_late.text
    assert _ratings(sessions)[0][1] == 4


def test_refusals_say_why_and_write_nothing(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    _drill_back(hut, clock)
    drill = _last_loan(sessions, "T0001")
    clock.advance(timedelta(hours=1))
    hut.scan("T0003", LI)  # 李师傅's ladder back: his to rate, not hers
    ladder = _last_loan(sessions, "T0003")
    hut.scan("T0005", ZHANG)  # the dumbbells out: not back yet
    dumbbells = _last_loan(sessions, "T0005")
    zhang = signed_in_phone(browser, sessions, clock, ZHANG)

    def post(fields: dict[str, str], page: str = "/me") -> tuple[int, str]:
        response = zhang.post("/me/rating", fields, page=page)
        return response.status_code, response.text

    status, text = post({"loan": str(ladder), "score": "5"})
    assert status == 404 and "这不是您的借用，不能评价" in text and "梯子" not in text
    status, text = post({"loan": "999999", "score": "5"})
    assert status == 404 and "没有这笔借用记录" in text
    status, text = post({"loan": str(dumbbells), "score": "5"})
    assert status == 409 and "归还后才能评价" in text
    for score in ("7", "0", "x", "", "55", "-1"):
        status, text = post({"loan": str(drill), "score": score})
        assert status == 422 and "评分须为1到5分" in text, score
    status, text = post({"loan": str(drill)})  # no score at all
    assert status == 422 and "评分须为1到5分" in text
    long = "好" * 501
    status, text = post({"loan": str(drill), "score": "1", "comment": long, "from": "history"})
    assert status == 422 and "留言最多500字" in text
    # The history page again, the form filled with what she wrote.
    assert 'name="from" value="history"' in text and f">{long}</textarea>" in text
    for loan in ("abc", "", "-1", "9" * 30):
        status, text = post({"loan": loan, "score": "5"})
        assert status == 422 and "这不是借用编号" in text, loan
    assert post({"score": "5"})[0] == 422
    assert _written(sessions) == (0, 0)

    # Without the form's token, or signed out: refused, nothing written.
    forged = zhang.client.post(
        "/me/rating", data={"loan": str(drill), "score": "5"}, follow_redirects=False
    )
    assert forged.status_code == 403
    stranger = browser()
    out = stranger.post("/me/rating", {"loan": str(drill), "score": "5"}, page="/me/sign-in")
    assert out.status_code == 303 and out.headers["location"].startswith("/me/sign-in")
    assert _written(sessions) == (0, 0)
    # The one she may rate still is.
    assert post({"loan": str(drill), "score": "3"})[0] == 303
    assert _ratings(sessions) == [(drill, 3, "", RatingSource.PHONE)]


def test_the_rating_is_in_the_personal_data_and_erasure_blanks_its_comment(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    _drill_back(hut, clock)
    drill = _last_loan(sessions, "T0001")
    zhang = signed_in_phone(browser, sessions, clock, ZHANG)
    fields = {"loan": str(drill), "score": "1", "comment": COMMENT}
    assert zhang.post("/me/rating", fields, page="/me").status_code == 303
    member_id = member_of(sessions, ZHANG)
    with sessions() as db:
        export = member_privacy.personal_data(db, member_id, now=clock())
    [rating] = export["loan_ratings"]
    assert rating["loan"] == drill and rating["item"] == "T0001"
    assert (rating["score"], rating["comment"], rating["source"]) == (1, COMMENT, "phone")
    assert rating["at"] == clock().isoformat()

    stamp = Stamp(Actor("admin"), clock())
    with sessions.begin() as db:
        members.leave(db, member_id, reason=None, stamp=stamp)
    with sessions.begin() as db:
        member_privacy.erase(db, member_id, stamp=stamp)
    assert _ratings(sessions) == [(drill, 1, "", RatingSource.PHONE)]  # the score stays
    with sessions() as db:
        anomaly = db.scalars(select(Anomaly)).one()
        assert anomaly.detail == "rated 1/5"
        texts = [str(e.before) + str(e.after) for e in db.scalars(select(AuditEntry))]
        assert texts and not [t for t in texts if "钻头" in t or "3-201" in t]
        export = member_privacy.personal_data(db, member_id, now=clock())
    assert [r["comment"] for r in export["loan_ratings"]] == [""]
