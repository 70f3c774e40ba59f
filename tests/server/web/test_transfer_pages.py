"""/console/transfer: a file checked row by row before anything is written, imported only
once clean and confirmed; oversize refused with a message; exports per kind and format."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from server.seed import seed_demo
from server.storage.models import Item
from server.tabular.reading import Limits
from tests.support.console import Console

HEADER = "tag,name_zh,name_en,category,hut\n"
GOOD = HEADER + "N0001,锤子,Hammer,hand_tools,demo-hut\nN0002,锯子,Saw,hand_tools,demo-hut\n"
BAD = HEADER + "N0001,锤子,Hammer,hand_tools,demo-hut\nN0002,锯子,Saw,no_such_category,demo-hut\n"


@pytest.fixture
def staff(signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]) -> Console:
    with sessions.begin() as db:
        seed_demo(db)
    return signed_in(Role.STAFF)


def new_tags(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as db:
        return sorted(db.scalars(select(Item.tag).where(Item.tag.startswith("N"))))


def check(console: Console, body: bytes, kind: str = "items", name: str = "物品.csv") -> object:
    console.get("/console/transfer")
    return console.client.post(
        "/console/transfer",
        data={"csrf_token": console.token, "kind": kind},
        files={"file": (name, body, "text/csv")},
        follow_redirects=False,
    )


def test_a_bad_row_is_named_and_nothing_written_then_a_good_file_is_imported(
    staff: Console, sessions: sessionmaker[Session]
) -> None:
    page = staff.get("/console/transfer")
    assert page.status_code == 200 and "导入" in page.text
    refused = check(staff, BAD.encode())
    assert refused.status_code == 422  # type: ignore[attr-defined]
    html = refused.text  # type: ignore[attr-defined]
    assert "第 3 行" in html and "类别" in html  # the row and the column named
    assert 'name="token"' not in html  # no "import these" for a file with a bad row
    assert new_tags(sessions) == []

    checked = check(staff, GOOD.encode("gbk"))
    assert checked.status_code == 200  # type: ignore[attr-defined]
    assert "2 行均无问题" in checked.text and new_tags(sessions) == []  # type: ignore[attr-defined]
    staff.token = None
    staff.get("/console/transfer")  # the token is the session's: the same on every page
    token = checked.text.split('name="token" value="')[1].split('"')[0]  # type: ignore[attr-defined]
    done = staff.post("/console/transfer/import", {"token": token})
    assert done.status_code == 303
    assert done.headers["location"] == "/console/transfer?imported=items&rows=2&written=2"
    assert new_tags(sessions) == ["N0001", "N0002"]
    assert "已导入" in staff.get(done.headers["location"]).text
    again = staff.post("/console/transfer/import", {"token": token})  # posted twice: once
    assert again.status_code == 409 and "重新上传" in again.text


def test_an_oversize_file_is_refused_with_a_message(
    app: FastAPI, staff: Console, sessions: sessionmaker[Session]
) -> None:
    app.state.import_limits = Limits(max_bytes=1024)
    padding = "".join(f"N{n:04d},名{n},n{n},hand_tools,demo-hut\n" for n in range(2000))
    refused = check(staff, (HEADER + padding).encode())
    assert refused.status_code == 413  # type: ignore[attr-defined]
    assert "文件过大" in refused.text and "1 KB" in refused.text  # type: ignore[attr-defined]
    assert new_tags(sessions) == []


def test_no_file_an_unknown_kind_and_no_csrf_token(staff: Console) -> None:
    staff.get("/console/transfer")
    no_file = staff.client.post(
        "/console/transfer", data={"csrf_token": staff.token, "kind": "items"}
    )
    assert no_file.status_code == 422 and 'id="e-file"' in no_file.text
    unknown = check(staff, GOOD.encode(), kind="spaceships")
    assert unknown.status_code == 422 and "请选择文件里是哪类记录" in unknown.text  # type: ignore[attr-defined]
    forged = staff.client.post(
        "/console/transfer", data={"kind": "items"}, files={"file": ("a.csv", GOOD.encode())}
    )
    assert forged.status_code == 403


def test_exports_for_every_role_and_the_page_for_staff_only(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as db:
        seed_demo(db)
    viewer = signed_in(Role.VIEWER)
    assert viewer.get("/console/transfer").status_code == 403
    assert viewer.post("/console/transfer/import", {"token": "x"}).status_code == 403
    csv = viewer.get("/console/transfer/export/items.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "T0001" in csv.content.decode("utf-8-sig")
    xlsx = viewer.get("/console/transfer/export/members.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert viewer.get("/console/transfer/export/items.pdf").status_code == 404
    assert viewer.get("/console/transfer/export/nope.csv").status_code == 404
    staff = signed_in(Role.STAFF)
    page = staff.get("/console/transfer").text
    assert 'href="/console/transfer/export/items.xlsx"' in page
