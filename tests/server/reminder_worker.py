"""One reminder process for the multi-process tests: waits for a common start, then sweeps.

Run: python -m tests.server.reminder_worker DB_URL SETTINGS_JSON NOWS START_EPOCH SWEEPS

NOWS is one ISO time or several, comma-separated: the clock moves from one to the next,
SWEEPS sweeps at each. Prints "at <time> sent <n>" per time, then "sent <total>" last.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

from server.reminders.config import ReminderSettings
from server.reminders.scheduler import build_service
from server.storage import make_engine, make_sessionmaker


def main(argv: list[str]) -> int:
    db_url, settings_json, nows, start, sweeps = argv
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    times = [datetime.fromisoformat(now) for now in nows.split(",")]
    clock = [times[0]]
    service = build_service(
        ReminderSettings.model_validate_json(settings_json),
        sessions=sessions,
        clock=lambda: clock[0],
    )
    time.sleep(max(0.0, float(start) - time.time()))  # line up with the other process
    total = 0
    for now in times:
        clock[0] = now
        sent = sum(service.sweep_once(now).sent for _ in range(int(sweeps)))
        print(f"at {now.isoformat()} sent {sent}", flush=True)
        total += sent
    print(f"sent {total}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
