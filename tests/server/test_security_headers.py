"""Every response carries the security headers: pages, API, /docs, /redoc, the schema,
static files, errors. Pages load nothing inline; the docs pages admit exactly their own
inline scripts, by hash."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from server.api.security_headers import HEADERS
from server.app import create_app
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage import make_engine, migrate

DOCS = ["/docs", "/redoc", "/docs/oauth2-redirect"]
STATIC = [
    "/static/docs/swagger-ui.css",
    "/static/docs/redoc.standalone.js",
    "/static/site/site.css",
]
OTHERS = ["/openapi.json", "/no/such/page", "/static/site/missing.css", "/api/v1/items?status=no"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path_factory.mktemp('headers')}/headers.sqlite3"
    migrate(url)
    engine = make_engine(url)
    seed_demo(engine)
    app = create_app(ServerSettings(db_url=url), engine=engine)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    engine.dispose()


def _api_requests(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, operations in paths.items()
        for method in operations
    ]


def test_every_route_answers_with_the_security_headers(client: TestClient) -> None:
    requests = [
        *_api_requests(client),
        *(("GET", path) for path in ["/", "/i/T0001", "/i/NOPE", *DOCS, *STATIC, *OTHERS]),
    ]
    assert len(requests) > 25
    statuses = set()
    for method, path in requests:
        response = client.request(method, path)
        statuses.add(response.status_code)
        for name, value in HEADERS.items():
            if name == "Content-Security-Policy" and path in DOCS:
                continue  # their own, below
            assert response.headers.get(name) == value, (method, path, name)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert {200, 401, 404, 422} <= statuses  # errors carry them too


@pytest.mark.parametrize("page", ["/", "/i/T0001", "/i/NOPE"])
def test_pages_carry_nothing_inline(client: TestClient, page: str) -> None:
    html = client.get(page).text
    assert "<script" not in html and "<style" not in html and " style=" not in html
    assert '<link rel="stylesheet" href="/static/site/site.css">' in html
    assert "'unsafe-inline'" not in client.get(page).headers["Content-Security-Policy"]


@pytest.mark.parametrize("page", DOCS)
def test_docs_pages_admit_exactly_their_own_inline_scripts(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src "))
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    expected = {
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in scripts
    }
    assert set(script_src.split()[2:]) == expected
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert response.headers["X-Frame-Options"] == "DENY"
    assert int(response.headers["Content-Length"]) == len(response.content)


def test_the_docs_policy_follows_the_page(client: TestClient) -> None:
    # One byte more in a script and its hash no longer admits it.
    from server.api.security_headers import docs_csp

    assert docs_csp(b"<script>a()</script>") != docs_csp(b"<script>a() </script>")
    assert "sha256-" not in docs_csp(b'<script src="/x.js"></script>')


def test_the_stylesheet_is_a_file_the_package_ships() -> None:
    from server.web.rendering import STATIC

    assert (STATIC / "site.css").is_file() and (STATIC / "console.css").is_file()
