"""The reminder sweep over a million loans (issue 4: the first sweep, the one that does the
work, <= 2 s with flat memory; issue 15: 40,000 due <= 4x the 10,000-due sweep), on
SQLite and on PostgreSQL.

Each database kind gets two scratch databases of LOANS loans: one with DUE due or overdue,
one with 4 x DUE (and in both 40,000 open loans not yet due, 20,000 members, default
policy, stock alerts off). Each run, on both: the reminder state is emptied (messages,
claims, deliveries), the first sweep is timed (find, claim, group; messages and deliveries
written); then emptied again and the same first sweep run under tracemalloc for its peak
of Python allocations (tracemalloc slows it several times: it is its own sweep). The
4 x DUE sweep's time and memory are held against the DUE sweep's of the same run.

    python bench/reminder_sweep.py [--loans 1000000] [--due 10000] [--only sqlite|postgresql]
                                   [--deliver [--webhook]] [--runs 3] [--quick]

``--deliver`` (no target) then times the delivery of one sweep's messages: to the hut
display channel, and with ``--webhook`` also to a real local HTTP receiver through Apprise
(one POST per message). The plan of the due window (partial index ix_loans_open_due_at)
is printed.
"""

from __future__ import annotations

import logging
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from harness import BenchRun, Floor, Measure, at_most, parser, ratio_at_most, repeat
from harness.services import databases, scratch_db
from sqlalchemy import Engine, text

from server.reminders.config import ReminderSettings
from server.reminders.scheduler import ReminderService, build_service
from server.storage import make_engine, make_sessionmaker, migrate

NOW = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai: outside quiet hours
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# What a sweep writes, children first: emptied before each first sweep.
REMINDER_STATE = ("reminder_attempts", "display_messages", "reminder_deliveries",
                  "reminder_claims", "reminder_messages")  # fmt: skip
FLAT = 1.5  # "flat memory": 4x the due loans, at most this many times the peak


@dataclass(frozen=True, slots=True)
class Size:
    loans: int
    due: int
    members: int
    open_later: int  # open loans not due for days: in the index, outside the window


FULL = Size(loans=1_000_000, due=10_000, members=20_000, open_later=40_000)
QUICK = Size(loans=10_000, due=200, members=500, open_later=1_000)


def fill(engine: Engine, size: Size, *, due: int) -> None:
    """``size.loans`` loans: ``due`` due or overdue, ``size.open_later`` open and not due
    for days, the rest returned long ago; ``size.members`` members."""
    loans, members, open_later = size.loans, size.members, size.open_later
    items = due + open_later
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
                f"SELECT 'M' || x, 'U', 'active' FROM {series.format(n=members)}"
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
                f"SELECT x, (x % {min(4000, members)}) + 1, 'bench', "
                f"{at(NOW - timedelta(days=14), '0')}, "
                f"{at(NOW - timedelta(days=10), f'x * {window} / {due}')}, NULL "
                f"FROM {series.format(n=due)}"
            )
        )
        conn.execute(
            text(
                "INSERT INTO loans (item_id, member_id, hut_id, borrowed_at, due_at, returned_at) "
                f"SELECT x + {due}, (x % {members}) + 1, 'bench', {at(NOW, '0')}, "
                f"{at(NOW + timedelta(days=3), 'x % 10000')}, NULL "
                f"FROM {series.format(n=open_later)}"
            )
        )
        conn.execute(
            text(
                "INSERT INTO loans (item_id, member_id, hut_id, borrowed_at, due_at, returned_at) "
                f"SELECT (x % {items}) + 1, (x % {members}) + 1, 'bench', "
                f"{at(NOW - timedelta(days=400), 'x % 500000')}, "
                f"{at(NOW - timedelta(days=397), 'x % 500000')}, "
                f"{at(NOW - timedelta(days=397), 'x % 500000')} "
                f"FROM {series.format(n=loans - due - open_later)}"
            )
        )
    # As autovacuum would leave a table that has lived a while: statistics, and on
    # PostgreSQL the hint bits and visibility map set, so the first timed sweep does not
    # pay for the bulk load.
    vacuum = "VACUUM ANALYZE" if pg else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(vacuum))


def empty_reminders(engine: Engine) -> None:
    """Back to before any sweep: the same first sweep can be run again."""
    with engine.begin() as conn:
        for table in REMINDER_STATE:
            conn.execute(text(f"DELETE FROM {table}"))
    if engine.dialect.name == "postgresql":  # dead rows out of the next sweep's way
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {', '.join(REMINDER_STATE)}"))


def service_for(engine: Engine, channels: dict[str, str]) -> ReminderService:
    return build_service(
        ReminderSettings(channels=channels, stock_alerts=False),
        sessions=make_sessionmaker(engine),
        clock=lambda: NOW,
    )


def first_sweep(engine: Engine, service: ReminderService) -> tuple[float, int]:
    """Seconds of the first sweep, and how many messages it wrote."""
    empty_reminders(engine)
    start = time.perf_counter()
    report = service.plan(NOW)
    return time.perf_counter() - start, report.messages


def first_sweep_peak(engine: Engine, service: ReminderService) -> float:
    """Peak Python allocations (MB) of the first sweep, run again from empty."""
    empty_reminders(engine)
    tracemalloc.start()
    try:
        service.plan(NOW)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


@contextmanager
def filled(kind: str, size: Size, due: int) -> Iterator[Engine]:
    with scratch_db(kind, name="reminders") as url:
        migrate(url)
        engine = make_engine(url)
        try:
            start = time.perf_counter()
            fill(engine, size, due=due)
            print(
                f"{NAMES[kind]}: {size.loans:,} loans ({due:,} due or overdue) written in "
                f"{time.perf_counter() - start:.0f} s",
                flush=True,
            )
            yield engine
        finally:
            engine.dispose()


def measure_kind(run: BenchRun, kind: str, size: Size, *, deliver: bool, webhook: bool) -> None:
    big = size.due * 4
    with ExitStack() as stack:
        small_db = stack.enter_context(filled(kind, size, size.due))
        big_db = stack.enter_context(filled(kind, size, big))
        channels: dict[str, str] = {}
        receiver: Any = None
        if webhook:
            from tests.server.receivers import webhook_receiver

            receiver = stack.enter_context(webhook_receiver())
            channels["webhook"] = f"{receiver.apprise_base}/member"
        small, large = service_for(small_db, channels), service_for(big_db, channels)

        def one(_i: int) -> dict[str, float]:
            small_s, small_messages = first_sweep(small_db, small)
            big_s, big_messages = first_sweep(big_db, large)
            return {"small": small_s, "big": big_s, "small messages": small_messages,
                    "big messages": big_messages, "small MB": first_sweep_peak(small_db, small),
                    "big MB": first_sweep_peak(big_db, large)}  # fmt: skip

        runs = repeat(run.runs, one)
        print("  due window plan:", due_window_plan(small_db), flush=True)
        if deliver:
            delivery(run, kind, small_db, small, receiver)
    add_measures(run, kind, size, runs)


def add_measures(run: BenchRun, kind: str, size: Size, runs: dict[str, list[float]]) -> None:
    name, big = NAMES[kind], size.due * 4
    of = f"of {size.loans:,} loans, {name}"
    small = Floor(f"the first sweep, {size.due:,} due {of}", "s", runs["small"])
    run.add(
        Measure(
            f"reminder sweep, the first, {size.due:,} due {of}",
            "s",
            runs["small"],
            target=at_most(2.0, "≤ 2 s"),
            details={"messages": runs["small messages"]},
        )
    )
    run.add(
        Measure(
            f"reminder sweep, the first, {big:,} due {of}",
            "s",
            runs["big"],
            floor=small,
            target=ratio_at_most(4, f"≤ 4× the {size.due:,}-due sweep"),
            details={"messages": runs["big messages"]},
        )
    )
    run.add(
        Measure(
            f"reminder sweep memory, the first sweep's peak of Python allocations, {big:,} due "
            f"{of}",
            "MB",
            runs["big MB"],
            floor=Floor(f"the same, {size.due:,} due", "MB", runs["small MB"]),
            target=ratio_at_most(FLAT, f"flat: ≤ {FLAT}× the {size.due:,}-due sweep's peak"),
        )
    )


def delivery(
    run: BenchRun, kind: str, engine: Engine, service: ReminderService, receiver: Any
) -> None:
    first_sweep(engine, service)
    start = time.perf_counter()
    report = service.deliver(NOW)
    seconds = time.perf_counter() - start
    channels = "display" + ("" if receiver is None else " and a webhook (Apprise)")
    run.add(
        Measure(
            f"reminder delivery of one sweep's messages on {channels}, {NAMES[kind]}",
            "deliveries/s",
            [report.sent / seconds],
            details={"sent": report.sent, "failed": report.failed}
            | ({} if receiver is None else {"posts": len(receiver.posts)}),
        )
    )


def due_window_plan(engine: Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows: Callable[[], Any] = lambda: conn.execute(  # noqa: E731
                text(
                    "EXPLAIN SELECT id FROM loans WHERE returned_at IS NULL "
                    "AND due_at >= now() AND due_at <= now() + interval '2 days'"
                )
            ).scalars()
            return " | ".join(rows())
        return " | ".join(
            str(r)
            for r in conn.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM loans WHERE returned_at IS NULL "
                    "AND due_at >= '2026' AND due_at <= '2027'"
                )
            )
        )


def main() -> int:
    p = parser(__doc__, runs=3)
    p.add_argument("--loans", type=int, default=None, help="default 1,000,000; quick 10,000")
    p.add_argument("--due", type=int, default=None, help="default 10,000; quick 200")
    p.add_argument("--only", choices=list(NAMES), default=None)
    p.add_argument("--deliver", action="store_true", help="time the delivery too (no target)")
    p.add_argument("--webhook", action="store_true", help="--deliver: to a local webhook too")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run = BenchRun("reminder_sweep", args)
    size = QUICK if run.quick else FULL
    if args.loans or args.due:
        size = Size(
            loans=args.loans or size.loans, due=args.due or size.due, members=size.members,
            open_later=size.open_later,
        )  # fmt: skip
    for kind in databases(args.only):
        measure_kind(run, kind, size, deliver=args.deliver or args.webhook, webhook=args.webhook)
    return run.finish()


if __name__ == "__main__":
    raise SystemExit(main())
