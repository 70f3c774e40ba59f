"""The console's ratings page and the ratings on an item's page, on SQLite and
PostgreSQL: the summary, per hut and per item, each rating with its member and comment;
the filters, a bad one named beside it and left out; signed out, nothing."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from server.seed import seed_demo
from tests.server.rating_setup import COMMENT, rate_some
from tests.support.console import Console


def _rated(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        seed_demo(db)
    rate_some(sessions)


def test_the_ratings_page_shows_the_summary_and_each_rating(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    _rated(sessions)
    page = signed_in(Role.VIEWER).get("/console/ratings")
    assert page.status_code == 200, page.text
    text = page.text
    assert "评价" in text and "平均分" in text and "3.33 / 5" in text
    assert "5分：1" in text and "4分：0" in text
    assert COMMENT in text and "张阿姨" in text and "李师傅" in text
    assert "工具屋评价卡" in text and "手机" in text
    # Per item, the lowest average first: the ladder before the drill.
    assert text.index("T0003 梯子") < text.index("T0001 电钻")


def test_the_filters_narrow_it_and_a_bad_one_is_named(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    _rated(sessions)
    staff = signed_in(Role.STAFF)
    one = staff.get("/console/ratings?item=T0007&score=3")
    assert one.status_code == 200 and "找到评价：1 条" in one.text and "李师傅" in one.text
    assert COMMENT not in one.text
    none = staff.get("/console/ratings?month=2026-10")
    assert "找到评价：0 条" in none.text and "没有符合这些条件的评价。" in none.text
    bad = staff.get("/console/ratings?month=soon&item=T9999&score=9")
    assert bad.status_code == 422
    assert "月份请写成 2026-11。" in bad.text and "没有这个编号的物品。" in bad.text
    assert "找到评价：3 条" in bad.text  # the bad filters left out, the list still shown


def test_the_item_page_shows_its_ratings_with_the_latest_comments(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    _rated(sessions)
    staff = signed_in(Role.STAFF)
    ladder = staff.get("/console/items/T0003")
    assert ladder.status_code == 200, ladder.text
    assert "居民评价" in ladder.text and COMMENT in ladder.text and "2.00 / 5" in ladder.text
    assert "/console/ratings?item=T0003" in ladder.text
    unrated = staff.get("/console/items/T0002")
    assert "还没有评价。" in unrated.text


def test_signed_out_is_sent_to_sign_in(browser: Callable[[], Console]) -> None:
    response = browser().client.get("/console/ratings", follow_redirects=False)
    assert response.status_code in (302, 303) and "/console/sign-in" in response.headers["location"]
