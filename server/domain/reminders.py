"""Reminder rules as data: which stage a loan has reached, quiet hours, the policy format.

A policy is a list of rules; the first rule whose categories and member groups match a
loan gives its stages. A stage fires at ``anchor + offset`` (anchor: the due time, or the
start of the due day in the hut's zone) and stays current until the next stage of the same
audience fires: a stage missed while the server was down, or in quiet hours, is superseded
by the later one rather than sent late next to it. A stage whose moment had come by the
time the loan was made is never sent for it (a one-day loan is due within 24 hours the
moment it starts: no "due soon" as the member walks away).

Planning gathers, per member and audience, every loan that reached a stage into one
reminder; each (loan, stage) in it is still claimed on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar


class ReminderPolicyError(ValueError):
    """Reminder policy data that cannot be used; the message names the field."""


class Audience(StrEnum):
    MEMBER = "member"  # the borrower, on the member channels
    STAFF = "staff"  # community staff, on the staff channels


class Anchor(StrEnum):
    DUE = "due"  # the loan's due time
    DUE_DAY = "due_day"  # midnight starting the due day, in the hut's zone


class StageAction(StrEnum):
    SUSPEND_BORROWING = "suspend_borrowing"


MANUAL_STAGE = "manual"  # staff "remind now": stored as "manual@<UTC time>" so it can repeat
# A resident's sign-in code and link, asked for on their phone: sent at once, quiet hours
# or not, on the member's own channel only; its payload is emptied once it went out.
SIGN_IN_STAGE = "sign_in"


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    offset: timedelta
    template: str
    channels: tuple[str, ...]
    audience: Audience = Audience.MEMBER
    anchor: Anchor = Anchor.DUE
    actions: tuple[StageAction, ...] = ()

    def fires_at(self, due_at: datetime, *, tz: tzinfo) -> datetime:
        if self.anchor is Anchor.DUE:
            return due_at + self.offset
        local = due_at.astimezone(tz)
        midnight = datetime.combine(local.date(), time(0), tzinfo=tz)
        return midnight + self.offset


@dataclass(frozen=True, slots=True)
class Rule:
    stages: tuple[Stage, ...]
    categories: frozenset[str] | None = None  # None: every category
    groups: frozenset[str] | None = None  # member groups (flags); None: every member

    def matches(self, *, category: str, groups: frozenset[str]) -> bool:
        return (self.categories is None or category in self.categories) and (
            self.groups is None or not self.groups.isdisjoint(groups)
        )


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local wall-clock hours in which member reminders wait; ``start > end`` spans midnight."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, moment: datetime, *, tz: tzinfo) -> bool:
        now = moment.astimezone(tz).time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_end(self, moment: datetime, *, tz: tzinfo) -> datetime:
        """The first moment at or after ``moment`` outside quiet hours."""
        if not self.contains(moment, tz=tz):
            return moment
        local = moment.astimezone(tz)
        end = datetime.combine(local.date(), self.end, tzinfo=tz)
        if end <= local:
            end += timedelta(days=1)
        return end


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    rules: tuple[Rule, ...]
    default_group: str = "resident"

    def stages_for(self, *, category: str, groups: Iterable[str] = ()) -> tuple[Stage, ...]:
        """``groups``: the member's flags (senior, staff ...); every member is also in the
        default group."""
        member_groups = frozenset(groups) | {self.default_group}
        for rule in self.rules:
            if rule.matches(category=category, groups=member_groups):
                return rule.stages
        return ()

    @property
    def horizon(self) -> timedelta:
        """How far before its due time a loan can reach its first stage (plus a day for
        day anchors), so the sweep knows the upper end of its due window."""
        earliest = min((s.offset for r in self.rules for s in r.stages), default=timedelta(0))
        return max(timedelta(0), -earliest) + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class StageDue:
    stage: Stage
    fired_at: datetime


def current_stages(
    stages: Sequence[Stage],
    *,
    due_at: datetime,
    now: datetime,
    tz: tzinfo,
    borrowed_at: datetime | None = None,
) -> list[StageDue]:
    """The stage each audience has reached now (at most one per audience), or none.

    A stage that fired at or before ``borrowed_at`` does not count, and does not supersede
    anything: the member was told the due time at the hut just then."""
    latest: dict[Audience, StageDue] = {}
    for stage in stages:
        fired = stage.fires_at(due_at, tz=tz)
        if fired > now or (borrowed_at is not None and fired <= borrowed_at):
            continue
        seen = latest.get(stage.audience)
        if seen is None or fired >= seen.fired_at:
            latest[stage.audience] = StageDue(stage, fired)
    return sorted(latest.values(), key=lambda due: due.stage.audience)


class OpenLoan(Protocol):
    """What reminder planning reads of an open loan."""

    @property
    def member_id(self) -> int: ...

    @property
    def due_at(self) -> datetime: ...

    @property
    def borrowed_at(self) -> datetime: ...


LoanT = TypeVar("LoanT", bound=OpenLoan)


@dataclass(frozen=True, slots=True)
class LoanStage(Generic[LoanT]):
    """A loan at the stage it has reached: one line of a reminder, claimed on its own."""

    loan: LoanT
    stage: Stage
    fired_at: datetime

    @property
    def progress(self) -> timedelta:
        """How long after the due time the stage fired: the larger, the more pressing."""
        return self.fired_at - self.loan.due_at


@dataclass(frozen=True, slots=True)
class MemberReminder(Generic[LoanT]):
    """One message: every loan of one member that reached a stage for one audience."""

    member_id: int
    audience: Audience
    parts: tuple[LoanStage[LoanT], ...]

    @property
    def lead(self) -> Stage:
        """The most pressing part's stage: it names the message and picks its wording."""
        return max(self.parts, key=lambda part: (part.progress, part.stage.name)).stage

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel of every part's stage, the lead's first: no stage loses one of
        its channels by being listed next to another."""
        lead = self.lead
        return tuple(
            dict.fromkeys([*lead.channels, *(c for p in self.parts for c in p.stage.channels)])
        )


def plan_reminders(
    loans: Iterable[LoanT],
    *,
    stages_of: Callable[[LoanT], Sequence[Stage]],
    zone_of: Callable[[LoanT], tzinfo],
    now: datetime,
    quiet: QuietHours,
) -> list[MemberReminder[LoanT]]:
    """The reminders due at ``now``: one per member and audience, listing every loan that
    has reached a stage (each at its own). Member stages wait out quiet hours in the
    loan's zone; the stage current when they end goes out then. Sorted by member and
    audience, so that processes planning the same loans claim them in the same order."""
    found: dict[tuple[int, Audience], list[LoanStage[LoanT]]] = {}
    for loan in loans:
        tz = zone_of(loan)
        reached = current_stages(
            stages_of(loan), due_at=loan.due_at, now=now, tz=tz, borrowed_at=loan.borrowed_at
        )
        for due in reached:
            if due.stage.audience is Audience.MEMBER and quiet.contains(now, tz=tz):
                continue
            found.setdefault((loan.member_id, due.stage.audience), []).append(
                LoanStage(loan, due.stage, due.fired_at)
            )
    return [
        MemberReminder(member_id, audience, tuple(parts))
        for (member_id, audience), parts in sorted(found.items(), key=lambda kv: kv[0])
    ]


def manual_stage_key(now: datetime) -> str:
    return f"{MANUAL_STAGE}@{now.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


# Channel names; a stage's channel that the settings do not configure is skipped.
MEMBER_CHANNELS = ("wecom", "email", "sms", "webhook", "display")
STAFF_CHANNELS = ("staff",)

DEFAULT_REMINDER_POLICY = ReminderPolicy(
    rules=(
        Rule(
            stages=(
                Stage("due_soon", timedelta(hours=-24), "due_soon", MEMBER_CHANNELS),
                Stage(
                    "due_today", timedelta(0), "due_today", MEMBER_CHANNELS, anchor=Anchor.DUE_DAY
                ),
                Stage("overdue_1d", timedelta(days=1), "overdue", MEMBER_CHANNELS),
                Stage("overdue_3d", timedelta(days=3), "overdue", MEMBER_CHANNELS),
                Stage(
                    "escalation_7d", timedelta(days=7), "escalation", STAFF_CHANNELS, Audience.STAFF
                ),
            )
        ),
    )
)


# --- the data format --------------------------------------------------------------------
#
# {"default_group": "resident",
#  "rules": [{"categories": ["ladders"], "groups": ["resident"],      # optional filters
#             "stages": [{"name": "due_soon", "offset_hours": -24, "template": "due_soon",
#                         "channels": ["wecom", "display"], "audience": "member",
#                         "anchor": "due", "actions": []}, ...]},
#            ...]}


def policy_from_data(data: Mapping[str, Any]) -> ReminderPolicy:
    """Build a policy from plain data (parsed JSON); raises ReminderPolicyError."""
    if not isinstance(data, Mapping):
        raise ReminderPolicyError("policy: expected an object")
    _only(data, {"rules", "default_group"}, "policy")
    rules_data = data.get("rules")
    if not isinstance(rules_data, list) or not rules_data:
        raise ReminderPolicyError("policy.rules: expected a non-empty list")
    rules = tuple(_rule(rule, f"policy.rules[{n}]") for n, rule in enumerate(rules_data))
    group = data.get("default_group", "resident")
    if not isinstance(group, str) or not group:
        raise ReminderPolicyError("policy.default_group: expected a non-empty string")
    return ReminderPolicy(rules=rules, default_group=group)


def policy_to_data(policy: ReminderPolicy) -> dict[str, Any]:
    return {
        "default_group": policy.default_group,
        "rules": [
            {
                **({} if r.categories is None else {"categories": sorted(r.categories)}),
                **({} if r.groups is None else {"groups": sorted(r.groups)}),
                "stages": [
                    {
                        "name": s.name,
                        "offset_hours": s.offset / timedelta(hours=1),
                        "template": s.template,
                        "channels": list(s.channels),
                        "audience": s.audience.value,
                        "anchor": s.anchor.value,
                        "actions": [a.value for a in s.actions],
                    }
                    for s in r.stages
                ],
            }
            for r in policy.rules
        ],
    }


def _rule(data: Any, where: str) -> Rule:
    if not isinstance(data, Mapping):
        raise ReminderPolicyError(f"{where}: expected an object")
    _only(data, {"categories", "groups", "stages"}, where)
    stages_data = data.get("stages")
    if not isinstance(stages_data, list) or not stages_data:
        raise ReminderPolicyError(f"{where}.stages: expected a non-empty list")
    stages = tuple(_stage(s, f"{where}.stages[{n}]") for n, s in enumerate(stages_data))
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ReminderPolicyError(f"{where}.stages: stage names repeat")
    return Rule(
        stages=stages,
        categories=_names(data.get("categories"), f"{where}.categories"),
        groups=_names(data.get("groups"), f"{where}.groups"),
    )


def _stage(data: Any, where: str) -> Stage:
    if not isinstance(data, Mapping):
        raise ReminderPolicyError(f"{where}: expected an object")
    _only(
        data,
        {"name", "offset_hours", "template", "channels", "audience", "anchor", "actions"},
        where,
    )
    name = data.get("name")
    if not isinstance(name, str) or not name or "@" in name or len(name) > 40:
        raise ReminderPolicyError(f"{where}.name: expected 1-40 characters without '@'")
    hours = data.get("offset_hours")
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        raise ReminderPolicyError(f"{where}.offset_hours: expected a number")
    template = data.get("template", name)
    if not isinstance(template, str) or not template:
        raise ReminderPolicyError(f"{where}.template: expected a string")
    channels = data.get("channels")
    if not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels):
        raise ReminderPolicyError(f"{where}.channels: expected a list of channel names")
    actions = data.get("actions", [])
    if not isinstance(actions, list):
        raise ReminderPolicyError(f"{where}.actions: expected a list")
    return Stage(
        name=name,
        offset=timedelta(hours=hours),
        template=template,
        channels=tuple(channels),
        audience=_choice(Audience, data.get("audience", "member"), f"{where}.audience"),
        anchor=_choice(Anchor, data.get("anchor", "due"), f"{where}.anchor"),
        actions=tuple(_choice(StageAction, a, f"{where}.actions") for a in actions),
    )


def _choice(enum: Any, value: Any, where: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ReminderPolicyError(f"{where}: {value!r} is not one of {allowed}") from None


def _names(value: Any, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReminderPolicyError(f"{where}: expected a list of strings")
    return frozenset(value)


def _only(data: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise ReminderPolicyError(f"{where}: unknown field(s) {', '.join(extra)}")


@dataclass(frozen=True, slots=True)
class ReminderLine:
    """One item in a reminder message."""

    item_zh: str
    item_en: str
    hut: str
    due_at: datetime
    tz: tzinfo
    member: str = ""
    building_unit: str = ""
    detail_zh: str = ""  # what the ledger adds to a stock alert's or a notice's line
    detail_en: str = ""  # "": the Chinese one
    template: str = ""  # the template of this line's own stage; "": the message's

    def overdue_days(self, now: datetime) -> int:
        return max(0, (now - self.due_at) // timedelta(days=1))


# Staff alerts about stock, not loans: one stage each, fired when the ledger reports them.
RESTOCK_STAGE = Stage("restock", timedelta(0), "restock", STAFF_CHANNELS, Audience.STAFF)
EXPIRY_STAGE = Stage("expiry", timedelta(0), "expiry", STAFF_CHANNELS, Audience.STAFF)
