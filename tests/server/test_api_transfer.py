"""POST /api/v1/import/{kind} and GET /api/v1/export/{kind}: every role, the report, the
size limit while the upload arrives, the file that comes out."""

from __future__ import annotations

import codecs
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.roles import Role
from server.settings import ServerSettings
from server.storage.models import ItemCategory
from server.storage.staff_models import AuditEntry
from server.tabular.reading import Limits
from tests.support.category_sheet import CategorySheet
from tests.support.staff_auth import staff_headers

from .conftest import MovableClock

GOOD = "key,中文名称,name_en,loan_days\nt_drill,电钻,drill,7\nt_saw,锯子,saw,5\n"
BAD = "key,中文名称,name_en,loan_days\nt_drill,电钻,drill,7\nBAD KEY,锯子,saw,0\nt_x,,x,1\n"


@pytest.fixture
def app(db_url: str, engine: Engine, clock: MovableClock) -> FastAPI:
    app = create_app(ServerSettings(db_url=db_url), clock=clock, engine=engine)
    app.state.sheets = {"categories": CategorySheet()}
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def upload(
    client: TestClient,
    body: bytes,
    headers: dict[str, str],
    *,
    name: str = "分类.csv",
    query: str = "",
    kind: str = "categories",
) -> tuple[int, dict[str, object]]:
    response = client.post(
        f"/api/v1/import/{kind}{query}", files={"file": (name, body)}, headers=headers
    )
    return response.status_code, response.json()


def keys(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as db:
        found = db.scalars(select(ItemCategory.key).where(ItemCategory.key.startswith("t_")))
        return sorted(found)


def test_import_roles_and_refusals(client: TestClient, sessions: sessionmaker[Session]) -> None:
    body = GOOD.encode()
    assert upload(client, body, {})[0] == 401
    assert upload(client, body, staff_headers(sessions, Role.VIEWER))[0] == 403
    staff = staff_headers(sessions, Role.STAFF)
    assert upload(client, body, staff, kind="spaceships")[0] == 404
    assert keys(sessions) == []
    no_file = client.post("/api/v1/import/categories", headers=staff, data={"x": "1"})
    assert no_file.status_code == 422
    assert no_file.json()["detail"][0]["loc"] == ["body", "file"]
    admin = staff_headers(sessions, Role.ADMIN)
    status, report = upload(client, body, admin)
    assert status == 200 and report["written"] == 2 and report["errors"] == []


def test_a_clean_import_is_written_and_audited_with_the_staff_member(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    staff = staff_headers(sessions, Role.STAFF, username="importer")
    status, report = upload(client, GOOD.encode("gbk"), staff, name="C:\\lists\\分类.csv")
    assert status == 200, report
    assert report == {"kind": "categories", "filename": "分类.csv", "rows": 2, "errors": [],
                      "written": 2, "dry_run": False}  # fmt: skip
    assert keys(sessions) == ["t_drill", "t_saw"]
    with sessions() as db:
        entries = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.actor) for e in entries] == [
        ("category.import", "importer"),
        ("category.import", "importer"),
        ("import.categories", "importer"),
    ]
    assert entries[-1].after == {"filename": "分类.csv", "rows": 2, "written": 2}


def test_a_bad_row_in_the_middle_is_422_with_every_row_and_nothing_written(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    staff = staff_headers(sessions)
    status, report = upload(client, codecs.BOM_UTF8 + BAD.encode(), staff)
    assert status == 422
    assert report["written"] == 0 and report["rows"] == 3
    assert [(e["line"], e["field"]) for e in report["errors"]] == [  # type: ignore[attr-defined]
        (3, "key"),
        (3, "loan_days"),
        (4, "name_zh"),
    ]
    assert keys(sessions) == []
    with sessions() as db:
        assert db.scalars(select(AuditEntry)).all() == []


def test_a_dry_run_reports_and_writes_nothing(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    staff = staff_headers(sessions)
    status, report = upload(client, GOOD.encode(), staff, query="?dry_run=true")
    assert status == 200 and report["dry_run"] is True and report["written"] == 0
    assert keys(sessions) == []
    status, report = upload(client, BAD.encode(), staff, query="?dry_run=true")
    assert status == 422 and len(report["errors"]) == 3  # type: ignore[arg-type]


def test_an_upload_over_the_limit_is_413_and_nothing_is_written(
    app: FastAPI, client: TestClient, sessions: sessionmaker[Session]
) -> None:
    app.state.import_limits = Limits(max_bytes=1024)
    staff = staff_headers(sessions)
    padding = "".join(f"t_{n:05d},名{n},n{n},7\n" for n in range(200))
    status, _ = upload(client, (GOOD + padding).encode(), staff)
    assert status == 413
    assert keys(sessions) == []
    # Without a Content-Length (a chunked upload) it is counted as it arrives.
    boundary = "b0undary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
        .encode(),
        *((padding * 40).encode()[i : i + 4096] for i in range(0, 200_000, 4096)),
        f"\r\n--{boundary}--\r\n".encode(),
    ]  # fmt: skip
    response = client.post(
        "/api/v1/import/categories",
        content=iter(parts),
        headers={**staff, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert "at most 1 KB" in response.json()["detail"]


@pytest.mark.parametrize(
    ("fmt", "media", "magic"),
    [("csv", "text/csv", codecs.BOM_UTF8), ("xlsx", "spreadsheetml", b"PK\x03\x04")],
)
def test_export_for_viewers_with_a_dated_file_that_imports_back(
    client: TestClient, sessions: sessionmaker[Session], fmt: str, media: str, magic: bytes
) -> None:
    staff = staff_headers(sessions)
    assert upload(client, GOOD.encode(), staff)[0] == 200
    url = f"/api/v1/export/categories?format={fmt}"
    assert client.get(url).status_code == 401
    viewer = staff_headers(sessions, Role.VIEWER)
    response = client.get(url, headers=viewer)
    assert response.status_code == 200
    assert media in response.headers["content-type"]
    assert response.headers["content-disposition"] == (
        f'attachment; filename="categories-2026-11-27.{fmt}"'
    )
    assert response.content.startswith(magic)
    assert client.get("/api/v1/export/spaceships", headers=viewer).status_code == 404
    assert client.get(url.replace(fmt, "pdf"), headers=viewer).status_code == 422
    status, report = upload(client, response.content, staff, name=f"back.{fmt}")
    assert status == 200 and report["written"] == 0, report


def test_the_routes_are_in_the_openapi_document(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    body = paths["/api/v1/import/{kind}"]["post"]["requestBody"]["content"]
    assert "file" in body["multipart/form-data"]["schema"]["properties"]
    assert "/api/v1/export/{kind}" in paths
