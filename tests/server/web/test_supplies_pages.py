"""The console's supplies page: every supply's stock, the low and the expiring ones (the
dashboard's counts link here), and a delivery recorded by staff, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from server.seed import seed_demo
from server.storage import consumables
from server.storage.models import Consumable, ConsumableBatch
from tests.server.conftest import T0
from tests.support.console import Console


def _seeded(sessions: sessionmaker[Session]) -> tuple[str, str]:
    """The demo's supplies, one of them run down to nothing, one batch expiring soon: the
    tags of both."""
    with sessions.begin() as db:
        seed_demo(db)
        first, second = db.scalars(select(Consumable).order_by(Consumable.tag)).all()[:2]
        for batch in first.batches:
            batch.quantity = 0
        db.add(
            ConsumableBatch(
                consumable_id=second.id,
                quantity=3,
                expires_on=(T0 + timedelta(days=5)).date(),
                received_on=T0.date(),
            )
        )
        return first.tag, second.tag


def test_the_tabs_show_the_stock_the_low_and_the_expiring(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    low, expiring = _seeded(sessions)
    viewer = signed_in(Role.VIEWER)
    every = viewer.get("/console/supplies")
    assert every.status_code == 200 and low in every.text and expiring in every.text
    assert "登记到货" not in every.text  # a viewer records nothing
    only_low = viewer.get("/console/supplies?state=low")
    assert low in only_low.text and "库存不足" in only_low.text
    soon = viewer.get("/console/supplies?state=expiring")
    assert expiring in soon.text and low not in soon.text
    assert (T0 + timedelta(days=5)).date().isoformat() in soon.text


def test_a_bad_filter_is_named_and_the_list_still_shown(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    low, _ = _seeded(sessions)
    page = signed_in(Role.VIEWER).get("/console/supplies?state=nonsense&offset=abc")
    assert page.status_code == 422
    assert 'id="e-state"' in page.text and 'id="e-offset"' in page.text
    assert low in page.text and "Traceback" not in page.text


def test_staff_record_a_delivery_and_a_bad_quantity_is_named_beside_its_row(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    low, _ = _seeded(sessions)
    staff = signed_in(Role.STAFF)
    staff.get("/console/supplies?state=low")
    refused = staff.post(f"/console/supplies/{low}/deliveries", {"quantity": "0", "back": ""})
    assert refused.status_code == 422 and "不能小于 1" in refused.text
    done = staff.post(
        f"/console/supplies/{low}/deliveries",
        {"quantity": "12", "expires_on": "2027-06-30", "back": "state=low"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/console/supplies?state=low&done=delivered"
    with sessions() as db:
        [row] = [s for s in consumables.stock(db) if s.tag == low]
        assert row.quantity == 12
    assert "到货已登记" in staff.get(done.headers["location"]).text


def test_a_viewer_posting_a_delivery_anyway_is_refused(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    low, _ = _seeded(sessions)
    viewer = signed_in(Role.VIEWER)
    viewer.get("/console/supplies")
    assert viewer.post(f"/console/supplies/{low}/deliveries", {"quantity": "5"}).status_code == 403
