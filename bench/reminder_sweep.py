"""Reminder sweep over LOANS loans of which DUE are due or overdue (issue 4: <= 2 s, flat memory).

Run: .venv/bin/python bench/reminder_sweep.py [DB_URL] [LOANS] [DUE] [--deliver [--webhook]]
     (default: a temporary SQLite file, 1,000,000 loans, 10,000 due; for PostgreSQL pass
     postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_reminders
     into an empty schema of that name)

Times the planning sweep (find, claim, group; messages and deliveries written) on its first
run and again once everything is claimed, with the peak of Python memory. ``--deliver``
then times the delivery of what was planned: to the hut display channel, and with
``--webhook`` also to a real local HTTP receiver through Apprise (one POST per message).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from server.reminders.config import ReminderSettings
from server.reminders.scheduler import build_service
from server.storage import make_engine, make_sessionmaker, migrate

NOW = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai: outside quiet hours
MEMBERS = 20_000
OPEN_LATER = 40_000  # open loans not due for days: in the index, outside the window


def fill(engine, *, loans: int, due: int) -> None:  # type: ignore[no-untyped-def]
    items = due + OPEN_LATER
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO huts (id, name, timezone, allowlist_version) "
                "VALUES ('bench', 'bench', 'Asia/Shanghai', 0)"
            )
        )
        if pg:
            series = "generate_series(1, {n}) AS s(x)"
            minutes = "(TIMESTAMPTZ '{base}' + ({expr}) * INTERVAL '1 minute')"
        else:
            series = (
                "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n})"
                " SELECT x FROM c)"
            )
            minutes = (
                "(strftime('%Y-%m-%d %H:%M:%S', '{base}', '+' || ({expr}) || ' minutes')"
                " || '.000000')"
            )

        def at(base: datetime, expr: str) -> str:
            stamp = base.strftime("%Y-%m-%d %H:%M:%S") + ("+00" if pg else "")
            return minutes.format(base=stamp, expr=expr)

        conn.execute(
            text(
                f"INSERT INTO members (name, building_unit, status) "
                f"SELECT 'M' || x, 'U', 'active' FROM {series.format(n=MEMBERS)}"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO items (tag, name_zh, name_en, category, hut_id, status) "
                f"SELECT 'B' || x, '电钻', 'Drill', 'power_tools', 'bench', 'on_loan' "
                f"FROM {series.format(n=items)}"
            )
        )
        window = 11 * 24 * 60  # due times spread over [now - 10 d, now + 1 d]
        conn.execute(
            text(
                "INSERT INTO loans (item_id, member_id, hut_id, borrowed_at, due_at, returned_at) "
                f"SELECT x, (x % 4000) + 1, 'bench', {at(NOW - timedelta(days=14), '0')}, "
                f"{at(NOW - timedelta(days=10), f'x * {window} / {due}')}, NULL "
                f"FROM {series.format(n=due)}"
            )
        )
        conn.execute(
            text(
                "INSERT INTO loans (item_id, member_id, hut_id, borrowed_at, due_at, returned_at) "
                f"SELECT x + {due}, (x % {MEMBERS}) + 1, 'bench', {at(NOW, '0')}, "
                f"{at(NOW + timedelta(days=3), 'x % 10000')}, NULL "
                f"FROM {series.format(n=OPEN_LATER)}"
            )
        )
        conn.execute(
            text(
                "INSERT INTO loans (item_id, member_id, hut_id, borrowed_at, due_at, returned_at) "
                f"SELECT (x % {items}) + 1, (x % {MEMBERS}) + 1, 'bench', "
                f"{at(NOW - timedelta(days=400), 'x % 500000')}, "
                f"{at(NOW - timedelta(days=397), 'x % 500000')}, "
                f"{at(NOW - timedelta(days=397), 'x % 500000')} "
                f"FROM {series.format(n=loans - due - OPEN_LATER)}"
            )
        )
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


def timed(label: str, action):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - start
    # tracemalloc would slow the sweep down several times: memory is its own run below.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label}: {seconds:.2f} s (process max RSS so far {rss:.0f} MB)")
    return result


def peak_memory(label: str, action) -> None:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    action()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{label}: peak Python allocations {peak / 1e6:.1f} MB")


def main(url: str, loans: int, due: int) -> None:
    migrate(url)
    engine = make_engine(url)
    t = time.perf_counter()
    fill(engine, loans=loans, due=due)
    print(
        f"{engine.dialect.name}: {loans:,} loans ({due:,} due or overdue) written in "
        f"{time.perf_counter() - t:.0f} s"
    )
    receiver = None
    channels: dict[str, str] = {}
    if "--webhook" in sys.argv:
        from contextlib import ExitStack

        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.server.receivers import webhook_receiver

        stack = ExitStack()
        receiver = stack.enter_context(webhook_receiver())
        channels["webhook"] = f"{receiver.apprise_base}/member"
    service = build_service(
        ReminderSettings(channels=channels, stock_alerts=False),
        sessions=make_sessionmaker(engine),
        clock=lambda: NOW,
    )
    report = timed("first sweep (plan: claim, group, write)", lambda: service.plan(NOW))
    print(
        f"  loans in window {report.loans_seen}, messages {report.messages}, "
        f"claims {report.claims}, deliveries {report.deliveries}"
    )
    timed("second sweep (plan, everything already claimed)", lambda: service.plan(NOW))
    later = NOW + timedelta(hours=6)  # some loans reach their next stage
    report = timed("sweep 6 h later (plan)", lambda: service.plan(later))
    print(f"  messages {report.messages}, claims {report.claims}")
    peak_memory("a further sweep", lambda: service.plan(later))
    if "--deliver" in sys.argv:
        start = time.perf_counter()
        report = timed("deliver what was planned", lambda: service.deliver(later))
        seconds = time.perf_counter() - start
        print(
            f"  {report.sent:,} sent ({report.failed} failed) on "
            f"{', '.join(['display', *channels])}: {report.sent / seconds:,.0f} deliveries/s"
            + ("" if receiver is None else f"; the receiver got {len(receiver.posts):,} POSTs")
        )
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            plan = (
                conn.execute(
                    text(
                        "EXPLAIN SELECT id FROM loans WHERE returned_at IS NULL "
                        "AND due_at >= now() "
                        "AND due_at <= now() + interval '2 days'"
                    )
                )
                .scalars()
                .all()
            )
        else:
            plan = [
                str(r)
                for r in conn.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT id FROM loans WHERE returned_at IS NULL "
                        "AND due_at >= '2026' AND due_at <= '2027'"
                    )
                )
            ]
        print("  due window plan:", " | ".join(plan))
    engine.dispose()


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)  # not a million-loan run by mistake
        sys.exit(0)
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    url = args[0] if args else f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    main(
        url, int(args[1]) if len(args) > 1 else 1_000_000, int(args[2]) if len(args) > 2 else 10_000
    )
