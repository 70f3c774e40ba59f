"""One reminder process for the multi-process test: waits for a common start, then sweeps.

Run: python -m tests.server.reminder_worker DB_URL SETTINGS_JSON NOW_ISO START_EPOCH SWEEPS
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

from server.reminders.config import ReminderSettings
from server.reminders.scheduler import build_service
from server.storage import make_engine, make_sessionmaker


def main(argv: list[str]) -> int:
    db_url, settings_json, now_iso, start, sweeps = argv
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    now = datetime.fromisoformat(now_iso)
    service = build_service(
        ReminderSettings.model_validate_json(settings_json), sessions=sessions, clock=lambda: now
    )
    time.sleep(max(0.0, float(start) - time.time()))  # line up with the other process
    sent = 0
    for _ in range(int(sweeps)):
        sent += service.sweep_once(now).sent
    print(f"sent {sent}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
