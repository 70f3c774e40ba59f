"""Labels for a whole hut, read from a real running server's API, scan back to the item pages
that the same server serves."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from labels.fonts import BUNDLED_FONT, CjkFont
from server.app import ServerRuntime
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage import make_engine, migrate
from server.storage.models import Consumable, Item
from tests.labels.readback import decode, pdf_pages, pdf_text
from tests.support.services import Broker
from toolhut_cli.cli import main


@pytest.fixture
def server(tmp_path: Path, broker: Broker, topic_prefix: str) -> Iterator[ServerRuntime]:
    db_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    migrate(db_url)
    engine = make_engine(db_url)
    seed_demo(engine, hut_id="demo-hut")
    engine.dispose()
    runtime = ServerRuntime(
        ServerSettings(
            db_url=db_url,
            mqtt_url=broker.url,
            topic_prefix=topic_prefix,
            port=0,
            secret_file=tmp_path / "server-secret",
        )
    )
    runtime.start()
    yield runtime
    runtime.stop()


def test_a_whole_hut_from_the_server_scans_back_to_its_item_pages(
    server: ServerRuntime, font: CjkFont, tmp_path: Path
) -> None:
    out = tmp_path / "hut.pdf"
    code = main(
        ["labels", "items", "--server", server.base_url, "--hut", "demo-hut",
         "--base-url", server.base_url, "--layout", "3x8", "--no-progress", "-o", str(out)]
    )  # fmt: skip
    assert code == 0
    urls = sorted(decode(pdf_pages(out)[0]))
    assert len(urls) == 10  # the seeded hut's inventory
    assert f"{server.base_url}/i/T0001" in urls
    # Every label leads to a real item page, as a resident's phone would open it.
    for url in urls:
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            assert "text/html" in response.headers["content-type"]


def test_unknown_tags_asked_of_the_server_write_nothing(
    server: ServerRuntime, font: CjkFont, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "none.pdf"
    code = main(
        ["labels", "items", "--server", server.base_url, "--tag", "T0001", "--tag", "NOPE9",
         "--base-url", server.base_url, "-o", str(out)]
    )  # fmt: skip
    assert code == 2
    assert "NOPE9" in capsys.readouterr().err
    assert not out.exists()


def test_the_bundled_font_is_what_labels_use_by_default(
    font: CjkFont, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOOLHUT_LABELS_FONT", raising=False)
    from labels.fonts import find_font

    assert find_font(env={}).path == BUNDLED_FONT


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def test_supplies_get_labels_that_open_a_public_page(
    server: ServerRuntime, font: CjkFont, tmp_path: Path
) -> None:
    # Empty one shelf, as residents taking the last plasters would.
    engine = make_engine(server.settings.db_url)
    with Session(engine) as session, session.begin():
        gauze = session.scalars(select(Consumable).where(Consumable.tag == "C0003")).one()
        for batch in gauze.batches:
            batch.quantity = 0
    engine.dispose()

    out = tmp_path / "supplies.pdf"
    code = main(
        ["labels", "supplies", "--server", server.base_url, "--hut", "demo-hut",
         "--base-url", server.base_url, "--layout", "3x8", "--no-progress", "-o", str(out)]
    )  # fmt: skip
    assert code == 0
    urls = sorted(decode(pdf_pages(out)[0]))
    assert urls == [f"{server.base_url}/i/C000{n}" for n in (1, 2, 3)]
    assert "扫码领取" in pdf_text(out)[0]  # taken, not lent

    status, page = _get(urls[0])
    assert status == 200
    assert "创可贴" in page and "有货" in page  # Chinese first
    status, page = _get(urls[0] + "?lang=en")  # English by the language switch
    assert status == 200 and "Plasters" in page and "In stock" in page
    status, page = _get(urls[2])
    assert status == 200 and "暂时缺货" in page
    assert "Out of stock" in _get(urls[2] + "?lang=en")[1]
    for _, page in (_get(urls[0]), _get(f"{server.base_url}/api/v1/supplies/public")):
        # Nobody's name, flat or card, and no counts or batches either.
        for private in ("张阿姨", "3-201", "04A1B2C3", "quantity", "expires"):
            assert private not in page
    status, page = _get(f"{server.base_url}/i/C9999")
    assert status == 404 and "不在工具屋的登记中" in page


def test_a_hut_larger_than_a_page_of_the_api_gets_every_label(
    server: ServerRuntime, font: CjkFont, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 10 seeded + 31 more items, read 7 per page: six pages and a short last one.
    engine = make_engine(server.settings.db_url)
    with Session(engine) as session, session.begin():
        session.add_all(
            Item(tag=f"P{n:04d}", name_zh=f"工具{n}", name_en=f"Tool {n}",
                 category="hand_tools", hut_id="demo-hut")
            for n in range(31)
        )  # fmt: skip
    engine.dispose()
    monkeypatch.setattr("labels.sources.PAGE_ROWS", 7)
    out = tmp_path / "big.pdf"
    code = main(
        ["labels", "items", "--server", server.base_url, "--hut", "demo-hut",
         "--base-url", server.base_url, "--layout", "3x8", "--no-progress", "-o", str(out)]
    )  # fmt: skip
    assert code == 0
    urls = {url for page in pdf_pages(out) for url in decode(page)}
    assert len(urls) == 41
    assert f"{server.base_url}/i/P0030" in urls and f"{server.base_url}/i/T0010" in urls
