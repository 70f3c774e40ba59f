"""The report's words, in English for the catalogue; each PDF looks them up in its
language (Chinese the default)."""

from __future__ import annotations

from toolhut.i18n import N_

TITLE = N_("Tool hut monthly report")
SUBTITLE = N_("{month}, {scope}: for the residents' monthly meeting")
DISTRICT = N_("all huts of the district")
HUT = N_("hut {name} ({id})")
NOT_OVER = N_("The month is not over: counted up to {until}.")
BUILT = N_("Built {at} ({zone})")

HEADLINE = N_("Headline")
LOANS = N_("Loans")
LOANS_BY_WEEK = N_("Loans by week")
WEEK_OF = N_("from {day}")
LOANS_BY_CATEGORY = N_("Loans by category")
TOP_ITEMS = N_("Most borrowed items")
NEVER_BORROWED = N_("Items never borrowed")
NEVER_MORE = N_("and {count} more (all in the CSV)")
OVERDUE = N_("Overdue")
DUE = N_("Loans due this month")
LATE = N_("Back late or not yet back")
RATE = N_("Overdue rate")
DAYS_LATE = N_("Average days late")
REMINDERS = N_("Reminders sent, by channel")
RATINGS = N_("Ratings")
RATINGS_COUNT = N_("Ratings given")
RATINGS_AVERAGE = N_("Average score (1 to 5)")
RATINGS_NONE = N_("No ratings are recorded on this server yet.")
SCORE = N_("{score} stars")
COMMENTS = N_("What residents said")
WISHES = N_("Micro-wishes: propose, deliberate, handle, evaluate")
PROPOSED = N_("Proposed")
DELIBERATED = N_("Deliberated at the meeting")
HANDLED = N_("Handled")
DECLINED = N_("of them declined, with a reason")
EVALUATED = N_("Evaluated by residents")
PARTNERS = N_("Partner organisations")
PARTNER_ITEMS = N_("Items donated")
PARTNER_WISHES = N_("Wishes fulfilled this month")
SENIORS = N_("Residents aged 60+ served")
ALARMS = N_("Alarms")
ANOMALIES = N_("Anomalies")
AVAILABILITY = N_("Hut availability")
ONLINE = N_("Online")
OFFLINE_HOURS = N_("Hours offline")
NONE = N_("None this month.")
ITEM = N_("Item")
COUNT = N_("Count")
WHAT = N_("What")
HOW_AVAILABLE = N_(
    "Online share: the month less the hut-offline alarms, each from when the hut went "
    "offline to when it came back (or was resolved), overlaps counted once."
)

# The staff channel's message (server/reports/monthly_send.py).
MESSAGE_TITLE = N_("Tool hut monthly report {month}")
MESSAGE_BODY = N_(
    "The report of {month} for {scope} is ready: {loans} loans, overdue rate {rate}, "
    "{wishes} wishes proposed, online {online}. Download it (PDF, CSV) at {link}"
)
