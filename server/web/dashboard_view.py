"""What the console's dashboard shows, read in a fixed number of queries whatever the
number of huts, items or members: every hut's live state (server.storage.hut_states), the
open alarms (server.storage.alarm_changes, as the live stream has them), the counts staff
act on (open and overdue loans, supplies low or expiring: the reminders' own stock alert
rules) and the loan charts' figures (server.storage.loan_figures).

The words a hut card or an alarm row shows are ``labels``: one table in the reader's
language for the server's page and for dashboard.js, which keeps the cards live from
the huts' stream with the same words."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy.orm import Session

from server.domain import restock_needed
from server.domain.alarms import ALARM_NAMES
from server.reminders.stock_alerts import LedgerStockAlerts
from server.reminders.zones import hut_zone
from server.storage import alarm_changes, consumables, hut_states, loan_figures, queries
from server.storage.alarm_changes import AlarmView
from server.storage.hut_states import HutView
from server.storage.models import DEFAULT_TIMEZONE
from toolhut.i18n import N_, gettext

WEEKS = 12  # the loans-per-week chart: this week and the eleven before
CHART_TTL = timedelta(seconds=60)  # how long one app reuses the charts' figures
TIME_FORMAT = "%Y-%m-%d %H:%M"  # dashboard.js writes the same (Intl, sv-SE)

KIND_NAMES = ALARM_NAMES

_LABELS = {
    "online": N_("Online"),
    "offline": N_("Offline"),
    "never": N_("Never reported"),
    "since": N_("since {time}"),
    "door_open": N_("Standing open"),
    "door_closed": N_("Shut"),
    "locked": N_("Locked"),
    "unlocked": N_("Unlocked"),
    "unknown": N_("Not known"),
    "no_alarms": N_("None"),
    "alarm_active": N_("Active"),
    "alarm_acknowledged": N_("Acknowledged"),
    "alarm_cleared": N_("Over, not yet resolved"),
    "live_lost": N_("Live updates paused: reconnecting…"),
}


def labels(lang: str) -> dict[str, Any]:
    """Every word of a hut card and an alarm row, in ``lang`` (the page's and the script's)."""
    words: dict[str, Any] = {key: gettext(text, lang) for key, text in _LABELS.items()}
    words["kinds"] = {kind: gettext(text, lang) for kind, text in KIND_NAMES.items()}
    return words


def local_time(at: datetime | None, timezone: str) -> str:
    """``at`` as the hut of ``timezone`` reads its clock ("" for never)."""
    return "" if at is None else at.astimezone(hut_zone(timezone)).strftime(TIME_FORMAT)


@dataclass(frozen=True, slots=True)
class HutCard:
    hut_id: str
    name: str
    timezone: str
    state: HutView


@dataclass(frozen=True, slots=True)
class AlarmRow:
    alarm: AlarmView
    hut_name: str
    timezone: str


@dataclass(frozen=True, slots=True)
class Counts:
    on_loan: int
    overdue: int
    supplies_low: int
    supplies_expiring: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    huts: list[HutCard]
    alarms: list[AlarmRow]  # open (not resolved), newest first
    counts: Counts


def dashboard(db: Session, *, now: datetime) -> Dashboard:
    huts = queries.list_huts(db)
    views = hut_states.hut_views(db)
    cards = [
        HutCard(hut.id, hut.name, hut.timezone, views[hut.id]) for hut in huts if hut.id in views
    ]
    by_id = {hut.id: hut for hut in huts}
    rows = []
    for alarm in reversed(alarm_changes.open_alarms(db)):  # oldest first: newest first
        hut = by_id.get(alarm.hut_id)
        name, zone = (hut.name, hut.timezone) if hut else (alarm.hut_id, DEFAULT_TIMEZONE)
        rows.append(AlarmRow(alarm, name, zone))
    return Dashboard(cards, rows, counts(db, now=now))


def counts(db: Session, *, now: datetime) -> Counts:
    """The open and overdue loans (one query); the supplies low on stock (the domain's
    restock rule, one query) and the expiry alerts staff are sent (the reminders' own
    rule: per consumable and date, in each hut's calendar)."""
    loans = loan_figures.open_loan_counts(db, now=now)
    return Counts(
        on_loan=loans.on_loan,
        overdue=loans.overdue,
        supplies_low=len(restock_needed(consumables.stock(db))),
        supplies_expiring=len(list(LedgerStockAlerts().expiring(db, now=now))),
    )


def week_starts(now: datetime, *, zone: tzinfo, weeks: int = WEEKS) -> list[datetime]:
    """The first instants (Monday 00:00 in ``zone``) of the last ``weeks`` weeks, this
    one last."""
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    return [
        datetime.combine(monday - timedelta(weeks=weeks - 1 - n), time(0), tzinfo=zone)
        for n in range(weeks)
    ]


@dataclass(frozen=True, slots=True)
class Series:
    """One chart's figures: a label and a value each, in order."""

    labels: list[str]
    values: list[int]


@dataclass(frozen=True, slots=True)
class Charts:
    weeks: Series  # labels: each week's Monday, MM-DD
    categories: Series  # labels: the category names in the reader's language


@dataclass(frozen=True, slots=True)
class LoanFigures:
    """The charts' figures before any language: computed at ``at``."""

    at: datetime
    newest_loan: int  # the newest loan's id when they were read
    starts: list[datetime]
    per_week: list[int]
    by_category: list[loan_figures.CategoryCount]


class FigureCache:
    """The last ``LoanFigures`` of one app, reused while no loan was begun since, within
    the same week, for at most ``ttl`` (by the app's clock): the two GROUP BYs read twelve
    weeks of loans, and a dashboard open on many screens, reloaded, need not read them
    again each time. A new loan shows at once (one look at the newest loan id); what no
    new loan tells (an item moved to another category) within ``ttl``. The counts and
    the huts are read fresh on every page."""

    def __init__(self, ttl: timedelta = CHART_TTL) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._held: LoanFigures | None = None

    def figures(self, db: Session, *, now: datetime) -> LoanFigures:
        starts = week_starts(now, zone=hut_zone(DEFAULT_TIMEZONE))
        newest = loan_figures.newest_loan_id(db)
        with self._lock:
            held = self._held
        if (
            held is not None
            and (held.starts, held.newest_loan) == (starts, newest)
            and held.at <= now < held.at + self.ttl
        ):
            return held
        found = LoanFigures(
            at=now,
            newest_loan=newest,
            starts=starts,
            per_week=loan_figures.loans_per_period(db, starts),
            by_category=loan_figures.loans_by_category(db, since=starts[0]),
        )
        with self._lock:
            self._held = found
        return found


def charts(db: Session, *, now: datetime, lang: str, cache: FigureCache | None = None) -> Charts:
    """The loans of the last ``WEEKS`` weeks (the district's calendar: the default zone),
    per week and per category (two GROUP BY queries, or none while ``cache`` holds them),
    labelled in ``lang``."""
    found = (cache or FigureCache(ttl=timedelta(0))).figures(db, now=now)
    return Charts(
        weeks=Series([start.strftime("%m-%d") for start in found.starts], found.per_week),
        categories=Series(
            [row.name_en if lang == "en" else row.name_zh for row in found.by_category],
            [row.loans for row in found.by_category],
        ),
    )
