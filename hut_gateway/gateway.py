"""The hut gateway: controller frames in, access decisions and events out.

Decisions that make the door open are taken here, from the local allowlist, so they never
wait on the network. Everything that happens is written to the outbox first and published
after; the server's ack clears it and carries the feedback for the resident. Each command
of the server's it verified is answered the same way: a CommandEvent (done, expired,
failed) in the outbox.

Threads: the serial link's reader runs the frame handlers (unlock first: the reader writes
the unlock frame itself when the link is idle, then hands the event to the recorder); the
recorder writes the outbox and publishes, so the reader never waits on the disk, nor on a
lock held by someone who does (``status()`` counts the outbox before taking the gateway's
lock); one supervisor thread keeps time (controller silence, held-open backstop, enrol
expiry), reopens a lost serial device with backoff and publishes status changes, so
neither the serial reader nor paho's network thread ever waits on the other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from firmware_bridge.codec import DecoderStats
from firmware_bridge.frames import (
    Alarm,
    Beep,
    CardRead,
    DoorChanged,
    Feedback,
    Frame,
    FrameError,
    Hello,
    QrScan,
    Unlock,
)
from firmware_bridge.link import Link, SerialTransport
from hut_gateway import data_dir
from hut_gateway.allowlist import AllowlistStore
from hut_gateway.commands import CommandGuard, Verdict
from hut_gateway.health import AlarmChange, Change, ControllerChange, HealthLimits, HealthMonitor
from hut_gateway.metrics import GatewayMetrics
from hut_gateway.outbox import Outbox
from hut_gateway.recorder import Build, Recorder
from hut_gateway.session import EnrolWindow, SessionTracker, enrol_window_s
from hut_gateway.settings import GatewaySettings
from hut_gateway.uplink import Uplink
from toolhut import __version__
from toolhut.contract import (
    MAX_DISPLAY_BYTES,
    MAX_SCAN_TEXT,
    AckBatch,
    AlarmEvent,
    AlarmKind,
    CardDecision,
    CardEvent,
    CardState,
    Command,
    CommandAction,
    CommandEvent,
    CommandOutcome,
    ContractError,
    ControllerEvent,
    DenialReason,
    DoorEvent,
    DoorState,
    GatewayState,
    Outcome,
    ScanEvent,
    Status,
    StatusCounters,
    utc_now,
)
from toolhut.contract import Beep as WireBeep
from toolhut.contract import Feedback as WireFeedback
from toolhut.hut_keys import HutCredentials
from toolhut.i18n import N_, bilingual, gettext

if TYPE_CHECKING:
    import serial

log = logging.getLogger(__name__)

# What the resident reads on the hut display. Chinese first: most users are elderly locals.
# From the message catalogues (toolhut.i18n), in the hut's language: Chinese.
TEXT_WELCOME = gettext(N_("Open the door to take or return items"))
TEXT_UNKNOWN_CARD = bilingual("Unknown card")
TEXT_SUSPENDED = bilingual("Account suspended")
TEXT_CARD_LOST = bilingual("Card reported lost")
TEXT_ELSEWHERE = bilingual("Not for this hut")
# Outside the opening hours, with today's: as many windows as fit, English when room is left.
TEXT_CLOSED = gettext(N_("Closed now, today {hours}"))
TEXT_CLOSED_EN = " / " + gettext(N_("Closed"), "en")
TEXT_CLOSED_TODAY = bilingual("Closed today")
TEXT_NO_ALLOWLIST = gettext(N_("Card list not synced, please ask staff"))
TEXT_NO_SESSION = gettext(N_("Tap your card first"))
TEXT_SCAN_TOO_LONG = gettext(N_("Unreadable label"))
TEXT_ENROL_READY = gettext(N_("Tap the card to enrol"))
TEXT_ENROLLED = gettext(N_("Card number read"))
TEXT_CLOSE_DOOR = gettext(N_("Please close the door"))

# What staff read about a command of theirs (the ``detail`` of its report).
DETAIL_CONTROLLER_ABSENT = bilingual("controller absent: not carried out")
DETAIL_UNLOCK_NOT_TAKEN = bilingual("the controller did not take the Unlock frame")
DETAIL_EXPIRED = bilingual("came after its expiry ({expires}): not carried out")
DETAIL_RESENT = bilingual("resent {count} unacked events")

# Why a card listed as not active stays outside: what the display says, what the event says.
_DENIED: dict[CardState, tuple[str, DenialReason]] = {
    CardState.SUSPENDED: (TEXT_SUSPENDED, DenialReason.SUSPENDED),
    CardState.LOST: (TEXT_CARD_LOST, DenialReason.LOST),
    CardState.ELSEWHERE: (TEXT_ELSEWHERE, DenialReason.ELSEWHERE),
}


def closed_text(windows: list[str]) -> str:
    """What the display says to an active card outside the opening hours: today's windows
    (``OpeningHours.windows_on``), within the display's limit."""
    if not windows:
        return TEXT_CLOSED_TODAY
    for count in range(len(windows), 0, -1):
        text = TEXT_CLOSED.format(hours=" ".join(windows[:count]))
        for shown in (text + TEXT_CLOSED_EN, text):
            if len(shown.encode()) <= MAX_DISPLAY_BYTES:
                return shown
    return TEXT_CLOSED.format(hours="")  # no window is ever this long: a fallback only


_WRITE_WAIT_S = 5.0  # longer than any sane SD card sync; then ack rather than wedge
# At start, how long the uplink waits for the controller to say where the door is, so the
# first status already has it: an Arduino that resets when the port opens answers in ~2 s.
_DOOR_REPORT_WAIT_S = 3.0

_BEEP_TO_FRAME = {WireBeep.OK: Beep.OK, WireBeep.ERROR: Beep.ERROR, WireBeep.NONE: Beep.NONE}


@dataclass
class ControllerState:
    firmware: str | None = None
    door: DoorState | None = None
    last_heard: float | None = None


@dataclass
class _Serial:
    """One opening of the serial device; a replug is a new one."""

    port: serial.Serial
    link: Link


class Gateway:
    def __init__(
        self,
        settings: GatewaySettings,
        *,
        credentials: HutCredentials | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        limits: HealthLimits | None = None,
        tick_s: float = 0.1,
    ) -> None:
        self.settings = settings
        self.limits = limits or settings.health_limits()
        self._clock = clock
        self._monotonic = monotonic
        self._tick_s = tick_s  # real time between looks at the (possibly injected) clock
        self._lock = threading.RLock()
        # SecretFileError without them: the gateway obeys only a server that has its key.
        credentials = credentials or settings.credentials()
        key = credentials.hut_key
        data_dir.prepare(settings.data_dir)
        self.outbox = Outbox(settings.outbox_path, key=key)
        self.allowlist = AllowlistStore(settings.allowlist_path, key=key)
        self._commands = CommandGuard()
        self.sessions = SessionTracker(idle_timeout_s=settings.session_idle_s)
        self.enrol = EnrolWindow()
        self.health = HealthMonitor(self.limits)
        self.controller = ControllerState()  # as the controller told this process
        # The door as the gateway last knew it, before a restart too (see _on_door); the
        # status says only what the controller told this process.
        kept = self.outbox.door()
        self._kept_door = next((d for d in DoorState if d == kept), None)
        # event id -> monotonic deadline until which the server's feedback is still shown
        self._awaiting_feedback: dict[str, float] = {}
        self._unlocked_until: float | None = None  # monotonic end of the last unlock pulse
        self.uplink = Uplink(
            settings,
            credentials=credentials,
            outbox=self.outbox,
            on_ack=self._on_ack,
            on_command=self._on_command,
            on_allowlist=self._on_allowlist,
            status=self.status,
            monotonic=monotonic,
        )
        self._recorder = Recorder(
            self.outbox, hut=settings.hut, publish=self.uplink.publish, clock=clock
        )
        self._reader = threading.local()  # .unwritten: events of the frame being handled
        self._serial: _Serial | None = None
        self._retired: list[_Serial] = []  # closed by a failure, waiting to be cleaned up
        self._totals = DecoderStats()  # of links already cleaned up
        self._gave_up = 0
        self._reopens = 0
        self._opened_once = False
        self.ticks = 0  # supervisor passes: lets a test know time was looked at
        self._stopping = threading.Event()
        self._status_dirty = threading.Event()
        self._door_reported = threading.Event()
        self.metrics = GatewayMetrics(
            self.status, outbox=self.outbox, uplink=self.uplink, settings=settings
        )
        self._supervisor = threading.Thread(
            target=self._supervise, name="gateway-supervisor", daemon=True
        )
        self._handlers: dict[type, Callable[[Any], None]] = {
            CardRead: self._on_card,
            QrScan: self._on_scan,
            DoorChanged: self._on_door,
            Hello: self._on_hello,
            Alarm: self._on_alarm,
        }
        self._command_handlers: dict[CommandAction, Callable[[Command], None]] = {
            "unlock": self._command_unlock,
            "enrol": self._command_enrol,
            "status": self._command_status,
            "sync": self._command_sync,
            "feedback": self._command_feedback,
        }

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start; a serial device that is not there yet is reported absent and retried."""
        self._recorder.start()
        if not self._open_serial():
            with self._lock:
                self._apply(self.health.port_lost(now=self._monotonic()))
        elif not self._door_reported.wait(_DOOR_REPORT_WAIT_S):
            log.info("the controller has not said where the door is yet")
        self.metrics.start()
        self.uplink.start()
        self._supervisor.start()
        log.info(
            "gateway for hut %s on %s, broker %s",
            self.settings.hut,
            self.settings.serial,
            self.uplink.endpoint_url,
        )

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor.is_alive():
            self._supervisor.join(timeout=2)
        with self._lock:
            openings = [*self._retired, *([self._serial] if self._serial else [])]
            self._serial = None
            self._retired = []
        for opening in openings:
            opening.link.stop()
            opening.port.close()
        self._recorder.stop()  # after the controller went quiet: what it said is written
        self.uplink.stop()
        self.metrics.stop()
        self.outbox.close()

    def status(self) -> Status:
        # Counted before taking the lock: the count waits for the recorder's commit (a disk
        # sync), and the next card's unlock must not wait behind it.
        depth = self.outbox.depth()
        with self._lock:
            return Status(
                hut=self.settings.hut,
                state=GatewayState.ONLINE,
                ts=self._clock(),
                firmware=self.controller.firmware,
                door=self.controller.door,
                controller=self.health.controller,
                allowlist=self.allowlist.version,
                outbox=depth,
                alarms=self.health.alarms,
                counters=self.counters(),
                lock="locked" if self._unlocked_until is None else "unlocked",
            )

    def counters(self) -> StatusCounters:
        with self._lock:
            decoder = DecoderStats(
                **{f.name: getattr(self._totals, f.name) for f in fields(DecoderStats)}
            )
            gave_up = self._gave_up
            live = [*self._retired, *([self._serial] if self._serial else [])]
            for opening in live:
                stats = opening.link.stats
                gave_up += stats.gave_up
                for f in fields(DecoderStats):
                    setattr(
                        decoder, f.name, getattr(decoder, f.name) + getattr(stats.decoder, f.name)
                    )
            return StatusCounters(
                frames=decoder.frames,
                garbage_bytes=decoder.garbage_bytes,
                bad_crc=decoder.bad_crc,
                oversize=decoder.oversize,
                malformed=decoder.malformed,
                unknown_type=decoder.unknown_type,
                gave_up=gave_up,
                reopens=self._reopens,
                rejected_messages=self.uplink.rejected_messages,
            )

    # -- the serial device ---------------------------------------------------------------

    def _open_serial(self) -> bool:
        import serial  # pyserial: imported here so --help works without it

        try:
            port = serial.Serial(
                self.settings.serial, self.settings.baudrate, timeout=0.05, exclusive=True
            )
        except (OSError, ValueError) as exc:  # SerialException is an OSError
            log.warning("cannot open serial device %s: %s", self.settings.serial, exc)
            return False
        opening: _Serial | None = None

        def closed(exc: OSError) -> None:
            if opening is not None:
                self._on_serial_closed(opening, exc)

        # The controller's frame is acked once its event is in the outbox: a gateway killed
        # after the ack must not take back an event the controller will never send again.
        link = Link(
            SerialTransport(port),
            on_frame=self._on_frame,
            on_closed=closed,
            name="gateway",
            ack_after_delivery=True,
        )
        opening = _Serial(port, link)
        with self._lock:
            self._serial = opening
            self.health.port_opened(now=self._monotonic())
            if self._opened_once:
                self._reopens += 1
            self._opened_once = True
        link.start()
        # Opening the port may reset the board; both ways, a hello starts the conversation.
        link.send(Hello(firmware=f"host-{__version__}"))
        log.info("serial device %s open", self.settings.serial)
        return True

    def _on_serial_closed(self, opening: _Serial, exc: OSError) -> None:
        # Runs on the thread whose read or write failed (the link's, or one that was sending):
        # record and hand the cleanup to the supervisor.
        log.error("serial device %s lost: %s", self.settings.serial, exc)
        with self._lock:
            if self._serial is opening:
                self._serial = None
            self._retired.append(opening)
            self.controller.firmware = None
            self._apply(self.health.port_lost(now=self._monotonic()))

    def _clean_up_retired(self) -> None:
        with self._lock:
            retired, self._retired = self._retired, []
        for opening in retired:
            opening.link.stop()
            opening.port.close()
            stats = opening.link.stats
            with self._lock:
                for f in fields(DecoderStats):
                    setattr(
                        self._totals,
                        f.name,
                        getattr(self._totals, f.name) + getattr(stats.decoder, f.name),
                    )
                self._gave_up += stats.gave_up

    # -- controller frames ------------------------------------------------------------

    def _on_frame(self, frame: Frame) -> None:
        self._reader.unwritten = []
        try:
            with self._lock:
                now = self._monotonic()
                self.controller.last_heard = now
                self._apply(self.health.heard(now=now, hello=isinstance(frame, Hello)))
                handler = self._handlers.get(type(frame))
                if handler is not None:
                    handler(frame)
        except Exception:  # one bad frame must not stop the serial reader
            log.exception("error handling %r", frame)
        # Outside the lock (the recorder's publish may ask for the status): the frame's
        # events on the disk before the link acks it. The unlock went out before.
        for written in self._reader.unwritten:
            if not written.wait(_WRITE_WAIT_S):
                log.warning("outbox write took over %.0f s; frame acked anyway", _WRITE_WAIT_S)
        self._reader.unwritten = None

    def _on_card(self, frame: CardRead) -> None:
        card = frame.uid_hex
        now = self._monotonic()
        session = None
        reason: DenialReason | None = None
        if self.enrol.take(now=now):
            self._send(Feedback(beep=Beep.OK, text=TEXT_ENROLLED))
            decision = CardDecision.ENROL
            log.info("a card was read for enrolment")  # its UID goes to the server only
        elif (state := self.allowlist.state_of(card)) is CardState.ACTIVE and (
            today := self.allowlist.closed_for(card, at=self._clock())
        ) is not None:
            # Outside the opening hours: only staff cards open; the hut says when it opens.
            self._send(Feedback(beep=Beep.ERROR, text=closed_text(today)))
            decision, reason = CardDecision.DENIED, DenialReason.CLOSED
            log.info("card denied (closed, allowlist version %s)", self.allowlist.version)
        elif state is CardState.ACTIVE:
            # Unlock first: it must not wait on the disk or the network.
            self._unlock()
            self._send(Feedback(beep=Beep.OK, text=TEXT_WELCOME))
            session = self.sessions.start(card, now=now)
            decision = CardDecision.UNLOCKED
            log.info("card admitted, session %s", session.id)
        else:
            if state is not None:
                text, reason = _DENIED[state]
            else:
                no_list = self.allowlist.version is None
                text = TEXT_NO_ALLOWLIST if no_list else TEXT_UNKNOWN_CARD
            self._send(Feedback(beep=Beep.ERROR, text=text))
            decision = CardDecision.DENIED
            log.info(
                "card denied (%s, allowlist version %s)",
                "unknown" if state is None else state.value,
                self.allowlist.version,
            )
        event_id = self._record(
            lambda env: CardEvent(
                **env,
                session=session.id if session else None,
                card=card,
                decision=decision,
                reason=reason,
            )
        )
        if session is not None:
            # The server's ack may carry a reminder line for this member: shown after the
            # welcome, if it comes within the feedback window.
            self._awaiting_feedback[event_id] = now + self.settings.feedback_window_s

    def _on_scan(self, frame: QrScan) -> None:
        text = frame.text[:MAX_SCAN_TEXT]
        session = self.sessions.touch(now=self._monotonic())
        if session is None:
            self._send(Feedback(beep=Beep.ERROR, text=TEXT_NO_SESSION))
        event_id = self._record(
            lambda env: ScanEvent(
                **env,
                session=session.id if session else None,
                card=session.card if session else None,
                text=text,
            )
        )
        if session is not None:
            self._awaiting_feedback[event_id] = self._monotonic() + self.settings.feedback_window_s

    def _on_door(self, frame: DoorChanged) -> None:
        """A door that moved is an event. The controller also says where the door is after
        each hello: that report is no event when it matches what the gateway knows, nor when
        the gateway never knew the door (its first start); it only fills in the status.

        The door the gateway knows is kept in the outbox's file, with the door event that
        changed it: a gateway restarted still knows it. A door closed while the gateway
        restarted, its frame retried by the controller until the new process acked it, is
        then a movement, not a first report (the fault run lost such a close)."""
        now = self._monotonic()
        state = DoorState.OPEN if frame.open else DoorState.CLOSED
        known = self.controller.door if self.controller.door is not None else self._kept_door
        self.controller.door = state
        self._door_reported.set()
        if state is known:
            return
        if known is None:
            self.outbox.set_door(state.value)  # the first report: the door from now on
        else:
            if frame.open:
                session = self.sessions.door_opened(now=now)
            else:
                session = self.sessions.door_closed(now=now)
                if session is not None:
                    log.info("door closed, session %s ended", session.id)
            self._record(
                lambda env: DoorEvent(**env, session=session.id if session else None, state=state),
                door=state.value,
            )
        self._apply(self.health.door(is_open=frame.open, now=now))
        self._status_dirty.set()

    def _on_alarm(self, frame: Alarm) -> None:
        kind = AlarmKind(frame.kind.name.lower())  # the two wires share the names
        log.warning("controller alarm %s %s", kind.value, "raised" if frame.active else "cleared")
        self._apply(self.health.alarm(kind, active=frame.active))

    def _on_hello(self, frame: Hello) -> None:
        log.info("controller says hello, firmware %s", frame.firmware)
        self.controller.firmware = frame.firmware
        self._record(
            lambda env: ControllerEvent(**env, state="hello", firmware=frame.firmware[:32])
        )
        self._status_dirty.set()

    # -- health changes -------------------------------------------------------------------

    def _apply(self, changes: list[Change]) -> None:
        """Record what the health monitor says changed (caller holds the lock)."""
        for change in changes:
            if isinstance(change, ControllerChange):
                log.warning("controller %s", change.state)
                self._record(self._controller_event(change))
            elif isinstance(change, AlarmChange):
                if change.source == "gateway" and change.active:
                    log.warning("door open longer than %.0f s", self.limits.held_open_s)
                    self._send(Feedback(beep=Beep.ERROR, text=TEXT_CLOSE_DOOR))
                self._record(self._alarm_event(change))
            self._status_dirty.set()

    def _controller_event(self, change: ControllerChange) -> Build:
        return lambda env: ControllerEvent(**env, state=change.state)

    def _alarm_event(self, change: AlarmChange) -> Build:
        return lambda env: AlarmEvent(
            **env, kind=change.kind, active=change.active, source=change.source
        )

    # -- server messages ----------------------------------------------------------------

    def _on_ack(self, batch: AckBatch) -> None:
        # The resident's feedback first: the server has committed these events already.
        # The outbox's delete does not wait for the SD card (Outbox.remove), so paho's
        # network thread is soon back for the next ack and the next append not held up.
        self._show_feedback(batch)
        ids = [ack.id for ack in batch.acks]
        self.outbox.remove(ids)
        self.uplink.forget(ids)

    def _show_feedback(self, batch: AckBatch) -> None:
        now = self._monotonic()
        for ack in batch.acks:
            with self._lock:
                if ack.outcome is Outcome.QUEUED:
                    # Held back behind a missing event: its feedback comes in a later ack,
                    # shown if it arrives within the window.
                    continue
                deadline = self._awaiting_feedback.pop(ack.id, None)
            if ack.feedback is not None and deadline is not None and now <= deadline:
                self._send_feedback(ack.feedback)

    def _on_allowlist(self, payload: bytes) -> None:
        if self.allowlist.offer(payload):
            self._status_dirty.set()

    def _on_command(self, command: Command) -> None:
        """Carry out a command of the server's and report what became of it (a
        CommandEvent in the outbox, so the report survives an outage): done, expired or
        failed. A replayed command is refused without a report."""
        verdict = self._commands.check(command, now=self._clock())
        if verdict is Verdict.REPLAYED:  # the uplink logs and counts it
            raise ContractError(f"command {command.id} ({command.action}) replayed")
        if verdict is Verdict.EXPIRED:
            expires = command.expires.isoformat(timespec="seconds")
            self._report(command, CommandOutcome.EXPIRED, DETAIL_EXPIRED.format(expires=expires))
            raise ContractError(f"command {command.id} ({command.action}) expired at {expires}")
        self._command_handlers[command.action](command)
        if command.feedback is not None:
            self._send_feedback(command.feedback)

    def _command_unlock(self, command: Command) -> None:
        with self._lock:
            sent = self._unlock()
        if sent is None:
            self._report(command, CommandOutcome.FAILED, DETAIL_CONTROLLER_ABSENT)
            return
        # Reported once the controller has taken the frame (its ack), from whichever thread
        # settles it: the reader thread that reads the ack, or this one if the link is gone.
        sent.add_done_callback(lambda done: self._unlock_settled(command, done))

    def _unlock_settled(self, command: Command, sent: Future[bool]) -> None:
        if sent.cancelled() or not sent.result():
            log.warning("remote unlock %s: the controller did not take it", command.id)
            self._report(command, CommandOutcome.FAILED, DETAIL_UNLOCK_NOT_TAKEN)
            return
        # The door is open for someone whose card does not work: their visit is a session
        # like a card's, and the report names it, so the server lends its scans to the
        # member staff unlocked it for (the wire never carries who that is).
        with self._lock:
            session = self.sessions.start(None, now=self._monotonic())
        log.info("remote unlock %s carried out, session %s", command.id, session.id)
        self._report(command, CommandOutcome.DONE, session=session.id)

    def _command_enrol(self, command: Command) -> None:
        if self._serial is None:
            self._report(command, CommandOutcome.FAILED, DETAIL_CONTROLLER_ABSENT)
            return
        window_s = enrol_window_s(command.expires, now=self._clock(), limit_s=self.limits.enrol_s)
        with self._lock:
            self.enrol.open(now=self._monotonic(), duration_s=window_s)
        log.info("enrol mode for %.0f s (command %s)", window_s, command.id)
        if command.feedback is None:
            self._send(Feedback(beep=Beep.NONE, text=TEXT_ENROL_READY))
        self._report(command, CommandOutcome.DONE)

    def _command_status(self, command: Command) -> None:
        self.uplink.publish_status()
        self._report(command, CommandOutcome.DONE)

    def _command_sync(self, command: Command) -> None:
        resent = self.uplink.resend_unacked()
        self._report(command, CommandOutcome.DONE, DETAIL_RESENT.format(count=resent))

    def _command_feedback(self, command: Command) -> None:
        # The feedback itself is shown by _on_command, as for every command that has one.
        if self._serial is None:
            self._report(command, CommandOutcome.FAILED, DETAIL_CONTROLLER_ABSENT)
        else:
            self._report(command, CommandOutcome.DONE)

    def _report(
        self,
        command: Command,
        outcome: CommandOutcome,
        detail: str | None = None,
        *,
        session: str | None = None,
    ) -> None:
        self._record(
            lambda env: CommandEvent(
                **env,
                session=session,
                command=command.id,
                action=command.action,
                outcome=outcome,
                detail=detail,
            )
        )

    # -- helpers ------------------------------------------------------------------------

    def _unlock(self) -> Future[bool] | None:
        """Send the Unlock frame; its future says whether the controller took it (None: no
        controller link, nothing sent)."""
        opening = self._serial
        if opening is None:
            log.warning("no controller link; unlock not sent")
            return None
        sent = opening.link.send(Unlock(pulse_ms=self.settings.unlock_pulse_ms))
        self._unlocked_until = self._monotonic() + self.settings.unlock_pulse_ms / 1000
        self._status_dirty.set()
        return sent

    def _send_feedback(self, feedback: WireFeedback) -> None:
        try:
            frame = Feedback(beep=_BEEP_TO_FRAME[feedback.beep], text=feedback.text)
        except FrameError as exc:  # the contract and the display agree; log if they ever don't
            log.warning("feedback not shown: %s", exc)
            return
        self._send(frame)

    def _send(self, frame: Frame) -> None:
        opening = self._serial
        if opening is None:
            log.warning("no controller link; dropped %r", frame)
            return
        opening.link.send(frame)

    def _record(self, build: Build, *, door: str | None = None) -> str:
        """Hand the event to the recorder (outbox, then publish); returns its id at once.
        On the serial reader's thread, the frame is acked once the event is written.
        ``door``: a door event's new state, kept with it."""
        unwritten: list[threading.Event] | None = getattr(self._reader, "unwritten", None)
        if unwritten is None:
            return self._recorder.record(build, door=door)
        written = threading.Event()
        unwritten.append(written)
        return self._recorder.record(build, written=written, door=door)

    # -- the supervisor thread ------------------------------------------------------------

    def _supervise(self) -> None:
        # Resending events and the periodic status (with fresh counters) are the uplink's;
        # this thread publishes the status when something here changed.
        while not self._stopping.wait(self._tick_s):
            try:
                self._clean_up_retired()
                with self._lock:
                    reopen = self.health.reopen_due(now=self._monotonic())
                if reopen and not self._open_serial():
                    with self._lock:
                        self._apply(self.health.open_failed(now=self._monotonic()))
                now = self._monotonic()
                with self._lock:
                    self._apply(self.health.tick(now=now))
                    if self._unlocked_until is not None and now >= self._unlocked_until:
                        self._unlocked_until = None
                        self._status_dirty.set()
                    if self.enrol.expire(now=now):
                        log.info("enrol mode ended: no card tapped")
                    for event_id, deadline in list(self._awaiting_feedback.items()):
                        if now > deadline:
                            del self._awaiting_feedback[event_id]
                if self._status_dirty.is_set():
                    self._status_dirty.clear()
                    self.uplink.publish_status()
            except Exception:
                log.exception("gateway supervisor failed")
            self.ticks += 1
