"""Reminder sweeps in real processes (tests/server/reminder_worker.py) against real receivers:
two processes sweeping the same loans send each (loan, stage) once, a member hears one
message per sweep whatever the stages of their loans, and a stage already due when the
loan was made is never sent."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.ledger import apply_event
from server.seed import seed_demo
from server.storage import reminder_queries
from server.storage.models import Hut, Item, Loan, Member
from server.storage.reminder_models import (
    DeliveryStatus,
    DisplayMessage,
    ReminderClaim,
    ReminderDelivery,
    ReminderMessage,
)

from .factories import scan
from .receivers import SmtpReceiver, WebhookReceiver, smtp_receiver, webhook_receiver
from .test_reminders import _lend, local

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = 12
LOANS_EACH = 4


def test_two_processes_deliver_each_loan_stage_once(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    due = local(26, 18)
    with sessions.begin() as db:
        seed_demo(db)
        for m in range(MEMBERS):
            member = Member(name=f"居民{m:02d}", building_unit=f"{m}-101")
            db.add(member)
            for n in range(LOANS_EACH):
                item = Item(
                    tag=f"P{m:02d}{n}",
                    name_zh=f"工具{m:02d}-{n}",
                    name_en=f"Tool {m}-{n}",
                    category="power_tools",
                    hut_id="demo-hut",
                    status="on_loan",
                )
                db.add(
                    Loan(
                        item=item,
                        member=member,
                        hut_id="demo-hut",
                        borrowed_at=due - timedelta(days=3),
                        due_at=due,
                    )
                )
    with webhook_receiver() as receiver:
        settings = {"channels": {"webhook": f"{receiver.apprise_base}/member"}, "batch": 5}
        outputs = _run_workers(db_url, settings, [local(27, 19)], processes=2, sweeps=3)
        posts = list(receiver.posts)
    # One message per member, listing all four loans, however the two processes raced.
    per_member = Counter(post["message"].split("您好")[0] for _, post in posts)
    assert per_member == {f"{m}-101 的住户": 1 for m in range(MEMBERS)}  # a shared webhook
    for _, post in posts:
        assert post["message"].count("已逾期 1 天") == LOANS_EACH
    sent = sum(int(out.split()[-1]) for out in outputs)
    assert sent == 2 * MEMBERS  # the webhook and the hut display, once each
    with sessions() as db:
        claims = db.scalar(
            select(func.count())
            .select_from(ReminderClaim)
            .where(ReminderClaim.subject.startswith("loan:"))
        )
        assert claims == MEMBERS * LOANS_EACH
        leased_by = set(db.scalars(select(ReminderDelivery.claimed_by)))
    assert None not in leased_by and len(leased_by) <= 2


def _lend_at_stages(sessions: sessionmaker[Session], *, neighbour: bool = True) -> int:
    """张阿姨 (her id): one loan overdue a day, two overdue three days, one due tomorrow
    (at 19:00 on the 27th); with ``neighbour``, 李师傅 one due tomorrow."""
    with sessions.begin() as db:
        seed_demo(db)
    zhang = _lend(sessions, ["T0001"], due_at=local(26, 18))  # overdue_1d
    _lend(sessions, ["T0007", "T0008"], due_at=local(24, 18))  # overdue_3d
    _lend(sessions, ["T0005"], due_at=local(28, 18))  # due_soon
    if neighbour:
        _lend(sessions, ["T0002"], due_at=local(28, 18), member="李师傅")
    with sessions.begin() as db:
        reminder_queries.set_contact(
            db, member_id=zhang, channel="email", address="zhang@example.org"
        )
    return zhang


def _channels(webhook: WebhookReceiver, smtp: SmtpReceiver) -> dict[str, object]:
    return {
        "stock_alerts": False,
        "channels": {
            "webhook": f"{webhook.apprise_base}/member",
            "email": f"mailto://127.0.0.1:{smtp.port}?mode=insecure"
            "&from=hut@example.org&to={address}",
        },
    }


def _text(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain", "html"))
    assert part is not None
    return str(part.get_content())


def test_a_member_hears_one_message_per_sweep_listing_each_loan_at_its_stage(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    zhang = _lend_at_stages(sessions)
    with webhook_receiver() as webhook, smtp_receiver() as smtp:
        outputs = _run_workers(
            db_url, _channels(webhook, smtp), [local(27, 19)], processes=2, sweeps=2
        )
        posts = [post["message"] for _, post in webhook.posts]
        mails = list(smtp.mails)
    # 张阿姨: the shared webhook, her e-mail and the hut display; 李师傅: webhook, display.
    assert sum(int(out.split()[-1]) for out in outputs) == 5
    [mail] = mails
    assert "逾期" in str(mail["Subject"])  # named by the most pressing stage
    text = _text(mail)
    assert text.startswith("张阿姨您好，您借用的 4 件物品中有已逾期的，请尽快归还")
    for line in (
        "· 螺丝刀套装（幸福里社区工具屋），还期 2026-11-24 18:00，已逾期 3 天",
        "· 卷尺（幸福里社区工具屋），还期 2026-11-24 18:00，已逾期 3 天",
        "· 电钻（幸福里社区工具屋），还期 2026-11-26 18:00，已逾期 1 天",
        "· 哑铃（幸福里社区工具屋），还期 2026-11-28 18:00，即将到期",
    ):
        assert line in text, text
    # Each item on a line of its own, in the mail a resident reads, not run together.
    lines = [ln.strip() for ln in text.replace("<br/>", "\n").replace("<br>", "\n").splitlines()]
    assert sum(ln.startswith("· ") for ln in lines) == 4, text
    per_member = Counter(post.split("您好")[0] for post in posts)
    assert per_member == {"3-201 的住户": 1, "5-502 的住户": 1}
    [to_zhang] = [post for post in posts if post.startswith("3-201")]
    assert [n in to_zhang for n in ("电钻", "螺丝刀套装", "卷尺", "哑铃")] == [True] * 4
    with sessions() as db:
        claims = db.execute(
            select(ReminderClaim.stage, ReminderMessage.member_id, ReminderMessage.id)
            .join(ReminderMessage, ReminderMessage.id == ReminderClaim.message_id)
            .where(ReminderClaim.subject.startswith("loan:"))
        ).all()
        lines = db.scalars(select(DisplayMessage.text).order_by(DisplayMessage.member_id))
        display = list(lines)
        unsent = db.scalar(
            select(func.count())
            .select_from(ReminderDelivery)
            .where(ReminderDelivery.status != DeliveryStatus.SENT)
        )
    # Each (loan, stage) claimed once, all of a member's in one message.
    assert sorted((member == zhang, stage) for stage, member, _ in claims) == [
        (False, "due_soon"),
        (True, "due_soon"),
        (True, "overdue_1d"),
        (True, "overdue_3d"),
        (True, "overdue_3d"),
    ]
    assert len({(member, message) for _, member, message in claims}) == 2
    assert display == ["请尽快归还螺丝刀套装等4件", "冲击钻等1件明天到期"]
    assert unsent == 0


def test_a_failed_send_retries_the_whole_message_and_later_stages_come_alone(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    _lend_at_stages(sessions, neighbour=False)
    with webhook_receiver() as webhook, smtp_receiver() as smtp:
        webhook.fail_next = 1  # the first POST fails; retried after 60 s
        outputs = _run_workers(
            db_url,
            _channels(webhook, smtp),
            [local(27, 19), local(27, 19, 2), local(28, 9)],
        )
        posts = [post["message"] for _, post in webhook.posts]
        mails = list(smtp.mails)
    # The e-mail and the display went at once, the POST two minutes later; on the 28th,
    # after the quiet hours, 哑铃 reached due_today: a message of its own on all three.
    assert _sent_at(outputs[0]) == [2, 1, 3]
    assert len(posts) == 2 and len(mails) == 2
    for message in (posts[0], _text(mails[0])):
        assert message.count("已逾期 3 天") == 2 and message.count("已逾期 1 天") == 1
        assert "哑铃（幸福里社区工具屋），还期 2026-11-28 18:00，即将到期" in message
    for message in (posts[1], _text(mails[1])):
        assert "您借用的 1 件物品今天到期" in message and "哑铃" in message
        assert "电钻" not in message and "卷尺" not in message
    with sessions() as db:
        display = db.scalars(select(DisplayMessage.text).order_by(DisplayMessage.id)).all()
        stages = Counter(db.scalars(select(ReminderClaim.stage)))
        webhook_attempts = db.scalars(
            select(ReminderDelivery.attempts)
            .where(ReminderDelivery.channel == "webhook")
            .order_by(ReminderDelivery.id)
        ).all()
    assert display == ["请尽快归还螺丝刀套装等4件", "哑铃等1件今天到期"]
    assert stages == {"overdue_1d": 1, "overdue_3d": 2, "due_soon": 1, "due_today": 1}
    assert webhook_attempts == [2, 1]


def test_a_one_day_loan_hears_no_due_soon_reminder_but_its_later_stages(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    borrowed = local(27, 10)
    with sessions.begin() as db:
        seed_demo(db)
        hut = db.get(Hut, "demo-hut")
        assert hut is not None
        # 李师傅 takes the ladder at the hut: the ledger lends it for one day.
        ack = apply_event(
            db, scan("demo-hut", 1, "T0003", card="04D5E6F7", ts=borrowed),
            hut=hut, received_at=borrowed,
        )  # fmt: skip
        assert ack.outcome == "applied", ack
        loan = db.scalars(select(Loan)).one()
        assert (loan.borrowed_at, loan.due_at) == (borrowed, borrowed + timedelta(days=1))
    with webhook_receiver() as webhook, smtp_receiver() as smtp:
        nows = [borrowed + timedelta(seconds=10), local(27, 15), local(28, 8, 30), local(29, 11)]
        [output] = _run_workers(db_url, _channels(webhook, smtp), nows)
        posts = [post["message"] for _, post in webhook.posts]
    # Webhook and hut display: nothing on the day of the loan, then due today, overdue.
    assert _sent_at(output) == [0, 0, 2, 2]
    assert len(posts) == 2
    assert "今天到期" in posts[0] and "梯子" in posts[0]
    assert "已逾期 1 天" in posts[1]
    with sessions() as db:
        assert sorted(db.scalars(select(ReminderClaim.stage))) == ["due_today", "overdue_1d"]


def _run_workers(
    db_url: str,
    settings: dict[str, object],
    nows: list[datetime],
    *,
    processes: int = 1,
    sweeps: int = 1,
) -> list[str]:
    """Run reminder worker processes to their end (each sweeps at every time of ``nows``,
    in order); their outputs."""
    start = time.time() + (2.0 if processes > 1 else 0.0)  # the processes' common start
    command = [
        sys.executable,
        "-m",
        "tests.server.reminder_worker",
        db_url,
        json.dumps(settings),
        ",".join(now.isoformat() for now in nows),
        str(start),
        str(sweeps),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    outputs = [w.communicate(timeout=120)[0] for w in workers]
    assert [w.returncode for w in workers] == [0] * processes, outputs
    return outputs


def _sent_at(output: str) -> list[int]:
    """The worker's "at <time> sent <n>" counts, in order."""
    return [int(n) for n in re.findall(r"^at \S+ sent (\d+)$", output, flags=re.MULTILINE)]
