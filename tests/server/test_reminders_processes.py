"""Two real processes sweep the same overdue loans at once: each (loan, stage) goes out once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.seed import seed_demo
from server.storage.models import Item, Loan, Member
from server.storage.reminder_models import ReminderClaim, ReminderDelivery

from .receivers import webhook_receiver
from .test_reminders import local

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = 12
LOANS_EACH = 4


def test_two_processes_deliver_each_loan_stage_once(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    due = local(26, 18)
    with sessions.begin() as session:
        seed_demo(session)
        for m in range(MEMBERS):
            member = Member(name=f"居民{m:02d}", building_unit=f"{m}-101")
            session.add(member)
            for n in range(LOANS_EACH):
                item = Item(
                    tag=f"P{m:02d}{n}",
                    name_zh=f"工具{m:02d}-{n}",
                    name_en=f"Tool {m}-{n}",
                    category="power_tools",
                    hut_id="demo-hut",
                    status="on_loan",
                )
                session.add(
                    Loan(
                        item=item,
                        member=member,
                        hut_id="demo-hut",
                        borrowed_at=due - timedelta(days=3),
                        due_at=due,
                    )
                )
    with webhook_receiver() as receiver:
        settings = json.dumps(
            {"channels": {"webhook": f"{receiver.apprise_base}/member"}, "batch": 5}
        )
        start = time.time() + 2.0
        command = [
            sys.executable,
            "-m",
            "tests.server.reminder_worker",
            db_url,
            settings,
            local(27, 19).isoformat(),
            str(start),
            "3",
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        workers = [
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [w.communicate(timeout=120)[0] for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
        posts = list(receiver.posts)
    # One message per member, listing all four loans, however the two processes raced.
    per_member = Counter(post["message"].split("您好")[0] for _, post in posts)
    assert per_member == {f"{m}-101 的住户": 1 for m in range(MEMBERS)}  # a shared webhook
    for _, post in posts:
        assert post["message"].count("已逾期 1 天") == LOANS_EACH
    sent = sum(int(out.split()[-1]) for out in outputs)
    assert sent == 2 * MEMBERS  # the webhook and the hut display, once each
    with sessions() as session:
        claims = session.scalar(
            select(func.count())
            .select_from(ReminderClaim)
            .where(ReminderClaim.subject.startswith("loan:"))
        )
        assert claims == MEMBERS * LOANS_EACH
        leased_by = set(session.scalars(select(ReminderDelivery.claimed_by)))
    assert None not in leased_by and len(leased_by) <= 2
