"""The pure reminder planning (server/domain/reminders.py) and the wording of a message that
lists loans at several stages (server/reminders/templates.py), with a moved clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from server.domain.reminders import (
    DEFAULT_REMINDER_POLICY,
    Audience,
    MemberReminder,
    QuietHours,
    ReminderLine,
    Stage,
    current_stages,
    plan_reminders,
)
from server.reminders.templates import render

from .test_reminders import SHANGHAI, local

STAGES = DEFAULT_REMINDER_POLICY.stages_for(category="power_tools")
QUIET = QuietHours()


@dataclass(frozen=True)
class _Loan:
    name: str
    member_id: int
    borrowed_at: datetime
    due_at: datetime


def _plan(loans: list[_Loan], now: datetime) -> list[MemberReminder[_Loan]]:
    return plan_reminders(
        loans, stages_of=lambda _: STAGES, zone_of=lambda _: SHANGHAI, now=now, quiet=QUIET
    )


def _reached(loan: _Loan, now: datetime, *, tz: tzinfo = SHANGHAI) -> list[str]:
    found = current_stages(STAGES, due_at=loan.due_at, now=now, tz=tz, borrowed_at=loan.borrowed_at)
    return [due.stage.name for due in found]


def test_a_stage_due_by_the_time_of_the_loan_is_skipped_and_later_ones_come() -> None:
    # A one-day loan at 10:00: "due soon" (24 h before) is due the moment it starts.
    ladder = _Loan("梯子", 1, borrowed_at=local(27, 10), due_at=local(28, 10))
    clock = ladder.borrowed_at
    for step, names in (
        (timedelta(0), []),
        (timedelta(seconds=5), []),
        (timedelta(hours=13, minutes=59), []),  # 23:59: nothing was superseded either
        (timedelta(hours=14), ["due_today"]),  # midnight of the due day
        (timedelta(days=1), ["due_today"]),
        (timedelta(days=2), ["overdue_1d"]),
        (timedelta(days=4), ["overdue_3d"]),
        (timedelta(days=8), ["overdue_3d", "escalation_7d"]),
    ):
        assert _reached(ladder, clock + step) == names, step
    # A loan made a second before the stage's moment still hears it; at the moment, not.
    moment = local(27, 10)
    early = _Loan("电钻", 1, borrowed_at=moment - timedelta(seconds=1), due_at=local(28, 10))
    assert _reached(early, moment) == ["due_soon"]
    assert _reached(ladder, moment) == []
    # Borrowed after midnight of the due day (a few hours' loan): due_today is skipped too.
    short = _Loan("扳手", 1, borrowed_at=local(28, 9), due_at=local(28, 17))
    assert _reached(short, local(28, 12)) == []
    assert _reached(short, local(29, 17)) == ["overdue_1d"]
    # Without a borrow time (older callers) the stages are as they were.
    assert [d.stage.name for d in current_stages(STAGES, due_at=ladder.due_at, now=moment,
            tz=SHANGHAI)] == ["due_soon"]  # fmt: skip


def test_one_reminder_per_member_and_audience_each_loan_at_its_own_stage() -> None:
    three_days = timedelta(days=3)
    loans = [
        _Loan("电钻", 1, local(23, 18), local(26, 18)),  # overdue a day at 19:00 on the 27th
        _Loan("螺丝刀", 1, local(21, 18), local(24, 18)),  # three days
        _Loan("卷尺", 1, local(21, 18), local(24, 18)),
        _Loan("哑铃", 1, local(25, 18), local(28, 18)),  # due tomorrow
        _Loan("瑜伽垫", 1, local(27, 12), local(30, 18)),  # nothing yet
        _Loan("冲击钻", 2, local(28, 18) - three_days, local(28, 18)),
        _Loan("梯子", 3, local(18, 18), local(19, 18)),  # eight days: staff hear of it too
    ]
    planned = _plan(loans, local(27, 19))
    assert [(r.member_id, r.audience) for r in planned] == [
        (1, Audience.MEMBER),
        (2, Audience.MEMBER),
        (3, Audience.MEMBER),
        (3, Audience.STAFF),
    ]
    zhang = planned[0]
    assert [(p.loan.name, p.stage.name) for p in zhang.parts] == [
        ("电钻", "overdue_1d"),
        ("螺丝刀", "overdue_3d"),
        ("卷尺", "overdue_3d"),
        ("哑铃", "due_soon"),
    ]
    assert zhang.lead.name == "overdue_3d"  # the most pressing names the message
    assert [p.stage.name for p in planned[3].parts] == ["escalation_7d"]
    assert planned[3].channels == ("staff",)

    # Quiet hours hold the members' reminders back, not the staff's.
    at_night = _plan(loans, local(27, 23))
    assert [(r.member_id, r.audience) for r in at_night] == [(3, Audience.STAFF)]
    # Planning is the same whichever order the loans come in (processes claim alike).
    assert _plan(list(reversed(loans)), local(27, 19))[0].lead == zhang.lead


def test_channels_of_a_mixed_reminder_are_every_stage_s_lead_first() -> None:
    soon = Stage("soon", timedelta(hours=-24), "due_soon", ("display",))
    late = Stage("late", timedelta(days=1), "overdue", ("sms", "display"))
    loans = [
        _Loan("a", 1, local(20, 18), local(28, 18)),
        _Loan("b", 1, local(20, 18), local(26, 18)),
    ]
    [reminder] = plan_reminders(
        loans,
        stages_of=lambda _: (soon, late),
        zone_of=lambda _: SHANGHAI,
        now=local(27, 19),
        quiet=QUIET,
    )
    assert reminder.lead is late and reminder.channels == ("sms", "display")


def _line(item: str, due: datetime, template: str, item_en: str = "") -> ReminderLine:
    return ReminderLine(item, item_en, "demo-hut", due, SHANGHAI, template=template)


def test_a_mixed_message_marks_each_item_with_its_own_stage() -> None:
    now = local(27, 19)
    lines = [
        _line("螺丝刀套装", local(24, 18), "overdue", "Screwdriver set"),
        _line("电钻", local(26, 18), "overdue", "Power drill"),
        _line("哑铃", local(28, 18), "due_soon", "Dumbbells"),
    ]
    zh = render("overdue", "zh", name="张阿姨", unit="3-201", lines=lines, now=now)
    assert zh.title == "工具屋：借用物品已逾期"
    assert zh.body.splitlines() == [
        "张阿姨您好，您借用的 3 件物品中有已逾期的，请尽快归还：",
        "· 螺丝刀套装（demo-hut），还期 2026-11-24 18:00，已逾期 3 天",
        "· 电钻（demo-hut），还期 2026-11-26 18:00，已逾期 1 天",
        "· 哑铃（demo-hut），还期 2026-11-28 18:00，即将到期",
        "如有困难请联系社区工作人员。谢谢！",
    ]
    assert zh.display == "请尽快归还螺丝刀套装等3件"
    en = render("overdue", "en", name="Zhang", unit="3-201", lines=lines, now=now)
    assert en.body.splitlines()[1:4] == [
        "- Screwdriver set (demo-hut), due 2026-11-24 18:00, 3 day(s) overdue",
        "- Power drill (demo-hut), due 2026-11-26 18:00, 1 day(s) overdue",
        "- Dumbbells (demo-hut), due 2026-11-28 18:00, due soon",
    ]
    # One stage throughout: worded as before, without notes.
    same = render("overdue", "zh", name="张阿姨", unit="", lines=lines[:2], now=now)
    assert same.body.splitlines()[0] == "张阿姨您好，您借用的 2 件物品已逾期，请尽快归还："
    # The overdue loans returned before a retry: what is left is worded by its own stage.
    left = render("overdue", "zh", name="张阿姨", unit="", lines=lines[2:], now=now)
    assert left.title == "工具屋：借用物品即将到期" and left.display == "哑铃等1件明天到期"
    # Lines without a template of their own (stock alerts, older claims): the message's.
    plain = [_line("电钻", local(26, 18), "")]
    assert "已逾期 1 天" in render("overdue", "zh", name="", unit="", lines=plain, now=now).body


def test_a_member_s_message_ends_with_the_link_to_their_own_page_in_their_language() -> None:
    now = local(27, 19)
    lines = [_line("电钻", local(28, 18), "due_soon", "Power drill")]
    url = "https://huts.example.org/me"
    for template in ("due_soon", "overdue", "manual", "reservation_ready", "notice"):
        zh = render(template, "zh", name="张阿姨", unit="", lines=lines, now=now, my_page=url)
        assert zh.body.splitlines()[-1] == f"查看借用、续借和排队：{url}", template
        en = render(template, "en", name="Zhang", unit="", lines=lines, now=now, my_page=url)
        assert en.body.splitlines()[-1] == f"Your loans, renewals and waiting lists: {url}"
        assert url not in zh.display  # the hut display has no room for it
    # To staff (no link given): as before.
    staff = render("escalation", "zh", name="张阿姨", unit="3-201", lines=lines, now=now)
    assert "http" not in staff.body
