"""The process log's lines about scans, through the ingest worker's path on the real
database: a hut's lone scan gets a line of its own (the label and what was decided); a
hut's many scans in one transaction (an outbox draining) one line of counts, their own
lines at DEBUG only. No line names a card."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.orm import Session, sessionmaker

from .streams import ingest, reset, visits

ZHANG = "04A1B2C3"
LOGGER = "server.scan_log"


def _lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def test_a_lone_scan_has_its_own_line(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    reset(sessions)
    events = visits("demo-hut", [(ZHANG, ["T0001"])])
    caplog.set_level(logging.INFO, logger=LOGGER)
    ingest(sessions, [[event] for event in events])  # one event a transaction
    assert _lines(caplog, logging.INFO) == [
        "hut demo-hut seq 3 scan 'T0001' session demo-hut-s0: borrow "
    ]


def test_a_drained_backlog_has_one_line_of_counts_per_hut(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    reset(sessions)
    # Borrow two, bring one back, an unknown label; then the other hut's lone scan.
    demo = visits("demo-hut", [(ZHANG, ["T0001", "T0002", "T9999"]), (ZHANG, ["T0001"])])
    other = visits("hut-b", [("04D5E6F7", ["T0010"])])
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    ingest(sessions, [demo + other])  # one transaction, as a drain's batch
    assert _lines(caplog, logging.INFO) == [
        "hut demo-hut seq 3-9: 4 scans: borrow 2, refuse 1, return 1 (unknown_item 1)",
        "hut hut-b seq 3 scan 'T0010' session hut-b-s0: borrow ",
    ]
    each = _lines(caplog, logging.DEBUG)
    assert [line.split(": ")[-1] for line in each] == [
        "borrow ",
        "borrow ",
        "refuse unknown_item",
        "return ",
    ]
    assert all(line.startswith("hut demo-hut seq ") for line in each)
    assert not [r for r in caplog.records if ZHANG in r.getMessage()]
