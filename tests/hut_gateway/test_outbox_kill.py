"""The outbox survives SIGKILL at any moment: what was committed stays, nothing is half
written, and no sequence number is given out twice."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from hut_gateway.outbox import Outbox
from toolhut.contract import DoorEvent, DoorState, new_id, parse_event, utc_now
from toolhut.hut_keys import HutKeyring

KEY = HutKeyring(b"k" * 32)("h1")

WRITER = """
import sys
from pathlib import Path
from hut_gateway.outbox import Outbox
from toolhut.contract import DoorEvent, DoorState, new_id, utc_now

from toolhut.hut_keys import HutKeyring
box = Outbox(Path(sys.argv[1]), key=HutKeyring(b"k" * 32)("h1"))
while True:
    _, stored = box.append(
        lambda seq: DoorEvent(id=new_id(), hut="h1", seq=seq, ts=utc_now(), state=DoorState.OPEN)
    )
    if stored.seq % 3 == 0:  # acks arrive too, so deletes are interrupted as well
        box.remove([p.id for p in box.pending(limit=2)])
    print(stored.seq, flush=True)
"""


def door(seq: int) -> DoorEvent:
    return DoorEvent(id=new_id(), hut="h1", seq=seq, ts=utc_now(), state=DoorState.OPEN)


def test_sigkill_while_writing_loses_no_committed_event_and_reuses_no_number(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    reported = 0
    for line in writer.stdout:
        reported = int(line)
        if reported >= 300:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)

    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (last,) = db.execute("SELECT last_seq FROM counter").fetchone()
    box = Outbox(path, key=KEY)
    try:
        pending = box.pending(limit=100_000)
        # Everything the writer saw committed is still counted; what is left is intact.
        assert last >= reported
        assert all(p.seq <= last for p in pending)
        assert len({p.id for p in pending}) == len(pending)
        assert all(parse_event(p.payload, key=KEY).seq == p.seq for p in pending)
        assert reported in {p.seq for p in pending}  # only the acked (oldest) ones are gone
        event, _ = box.append(door)
        assert event.seq == last + 1
    finally:
        box.close()
