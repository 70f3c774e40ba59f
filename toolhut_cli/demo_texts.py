"""Every text the demo prints for a person: the banner, the prompt's help, the notes it adds
to the hut's lines, and its start-up errors. Chinese first where a resident's words are:
the Chinese from the message catalogues (toolhut.i18n), the demo's names from its seed."""

from __future__ import annotations

from server.seed import DEMO_MEMBERS
from toolhut.hut_cards import SCORE_WORDS
from toolhut.i18n import N_, bilingual, gettext


def _zh(text: str) -> str:
    """The Chinese of a text the demo prints with its English beside it."""
    return gettext(text, "zh_CN")


# The demo members' names by card UID (server/seed.py), for the prompt's help.
_NAMES = {uid: name for name, _unit, uid, _flags in DEMO_MEMBERS}
_ZHANG, _LI, _STAFF = _NAMES["04A1B2C3"], _NAMES["04D5E6F7"], _NAMES["04ABCDEF"]

# A real hut's lock stays released for the gateway's unlock_pulse_ms (5 s by default); a
# person reading the help and typing `door open` takes longer than that, and a door opened
# after the lock re-engaged is a forced opening, which raises the alarm.
DEMO_UNLOCK_S = 30

_SATISFIED = _zh(SCORE_WORDS[5])  # the RATE:GOOD card's word

PROMPT_HELP = f"""\
Drive the hut by typing controller events (one a line):
  card 04A1B2C3        tap {_ZHANG}'s card   (card 04D5E6F7: {_LI}; any other UID is unknown)
  door open            open the door
  scan T0001           scan an item label (a bare tag or its label URL): borrow, or return
  scan COND:REPAIR     right after a return: it needs repair (also COND:OK, COND:MISSING)
  scan RATE:GOOD       right after a return: rate it {_SATISFIED} (also RATE:OK, RATE:BAD, RATE:1-5)
  scan SIGNIN:PHONE    after a card: the hut shows a code that signs a phone in (the page /me)
  scan C0001           take a first-aid supply (C0001-C0003)
  door close           close the door: the session ends
  card 04ABCDEF        {_STAFF}'s staff card: stocktake, scans counted until the door closes
  time +4d             move the server's clock 4 days ahead (also +2h, +1d12h): a drill
                       (3-day loan) is then overdue, and its reminder goes out
  time                 the server's time, and how far ahead of real time it is
  help | quit
After a card the lock stays released for {DEMO_UNLOCK_S} s here, time to type `door open`
(a real hut: 5 s); the hut says when it re-locks. A door opened while locked is a forced
opening: the controller raises the forced-open alarm, as a real one would.
"""

_DEMO = N_("Tool hut demo")
_SIGN_IN = N_("Staff sign-in")
BANNER = f"""
{_zh(_DEMO)} Tool hut demo is running — hut "{{hut}}", topic prefix "{{prefix}}"
  Inventory:     {{base}}/          (every hut's shelf; an item's page refreshes by itself)
  Ready:         {{base}}/readyz    (database, broker, migrations; {{base}}/healthz: alive)
  Items:         {{base}}/api/v1/items
  Open loans:    {{base}}/api/v1/loans?status=open
  Item page:     {{base}}/i/T0001   (what a phone shows after scanning a label)
  {_zh(_SIGN_IN)} staff console sign-in: {{admin}} / {{password}}
  Console:       {{base}}/console   (the password is kept in the data folder)
  Staff view:    curl -H 'Authorization: Bearer {{token}}' {{base}}/api/v1/items
  API docs:      {{base}}/docs
  MQTT broker:   {{broker}}
  Data:          {{data_dir}}
  Log:           {{log_path}}   (the prompt shows the hut's lines and warnings only)
"""

# Added under the emulator's line that starts with the key: what it means at the hut.
HUT_NOTES = {
    "lock released for": _zh(N_("Door unlocked")) + " unlocked: type `door open` now",
    "lock engaged": _zh(N_("Locked again")) + " the door is locked again",
    "sent alarm kind=forced_open active=1": _zh(N_("Forced-open alarm"))
    + " forced-open alarm: opened while locked",
    "sent alarm kind=held_open active=1": _zh(N_("Held-open alarm"))
    + " held-open alarm: close the door",
}

# The prompt's `time` command (toolhut_cli/demo_clock.py). The server's clock moves, the
# hut's does not: loans date from the hut's events, overdue is judged on the server's clock.
CLOCK_NOW = (
    _zh(N_("Server time"))
    + " server time: {now} ({zone})"
    + _zh(N_(", {offset} ahead of real time"))
    + " / {offset} ahead of real time"
)
CLOCK_MOVED = bilingual("clock moved {delta} forward")
CLOCK_USAGE = _zh(N_("Usage")) + " usage: time | time +4d | time +2h | time +1d12h  ({reason})"
CLOCK_REFUSED = bilingual("the clock did not move: {reason}")
CLOCK_QUIET = bilingual(
    "quiet hours {start}–{end}: member reminders wait until {end}; try `time +{hours}h`"
)
CLOCK_TOKENS = bilingual(
    "sign-ins and the banner's API token (one day) expire by the server's clock too: sign in "
    "again, or make a token (POST /api/v1/me/tokens)"
)
REMINDERS_SENT = bilingual(
    "{sent} reminder(s) sent: the hut display's line shows at the member's next card tap"
)

ALLOWLIST_READY = (
    _zh(N_("Card list received"))
    + " allowlist version {version} received: known cards open the door"
)
NO_BROKER_YET = "gateway has not reached the broker yet; it keeps trying"
NO_ALLOWLIST_YET = "no allowlist from the server yet: cards are refused until it comes"
END_OF_INPUT = "(no more input: the demo keeps running; Ctrl-C stops it)"

PORT_BUSY = (
    _zh(N_("Port {port} is in use: the demo did not start."))
    + """
toolhut demo: port {port} on {host} is in use (another demo or server?); nothing was started.
Pick another port with --port, e.g.  toolhut demo --port 8080
                               or  make demo DEMO_ARGS="--port 8080\""""
)

START_FAILED = _zh(N_("The demo could not start")) + " toolhut demo could not start: {reason}"
