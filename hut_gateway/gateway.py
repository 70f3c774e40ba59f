"""The hut gateway: controller frames in, access decisions and events out.

Decisions that make the door open are taken here, from the local allowlist, so they never
wait on the network. Everything that happens is written to the outbox first and published
after; the server's ack clears it and carries the feedback for the resident.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from firmware_bridge.frames import (
    Beep,
    CardRead,
    DoorChanged,
    Feedback,
    Frame,
    FrameError,
    Heartbeat,
    Hello,
    QrScan,
    Unlock,
)
from firmware_bridge.link import Link, SerialTransport
from hut_gateway.allowlist import AllowlistStore
from hut_gateway.outbox import AnyEvent, Outbox
from hut_gateway.session import SessionTracker
from hut_gateway.settings import GatewaySettings
from hut_gateway.uplink import Uplink
from toolhut import __version__
from toolhut.contract import (
    MAX_SCAN_TEXT,
    AckBatch,
    CardDecision,
    CardEvent,
    Command,
    ContractError,
    ControllerEvent,
    DoorEvent,
    DoorState,
    GatewayState,
    ScanEvent,
    Status,
    new_id,
    utc_now,
)
from toolhut.contract import Beep as WireBeep
from toolhut.contract import Feedback as WireFeedback

log = logging.getLogger(__name__)

# What the resident reads on the hut display. Chinese first: most users are elderly locals.
TEXT_WELCOME = "请开门取还物品"
TEXT_UNKNOWN_CARD = "未登记的卡"
TEXT_NO_SESSION = "请先刷卡"
TEXT_SCAN_TOO_LONG = "无法识别的标签"

_BEEP_TO_FRAME = {WireBeep.OK: Beep.OK, WireBeep.ERROR: Beep.ERROR, WireBeep.NONE: Beep.NONE}


class _Envelope(TypedDict):
    id: str
    hut: str
    seq: int
    ts: datetime


@dataclass
class ControllerState:
    firmware: str | None = None
    door: DoorState | None = None
    last_heard: float | None = None


class Gateway:
    def __init__(
        self,
        settings: GatewaySettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self.outbox = Outbox(settings.outbox_path, hut=settings.hut)
        self.allowlist = AllowlistStore(settings.allowlist_path, hut=settings.hut)
        self.sessions = SessionTracker(idle_timeout_s=settings.session_idle_s)
        self.controller = ControllerState()
        # event id -> monotonic deadline until which the server's feedback is still shown
        self._awaiting_feedback: dict[str, float] = {}
        self.uplink = Uplink(
            settings,
            outbox=self.outbox,
            on_ack=self._on_ack,
            on_command=self._on_command,
            on_allowlist=self._on_allowlist,
            status=self.status,
            monotonic=monotonic,
        )
        self._link: Link | None = None
        self._port = None
        self._stopping = threading.Event()
        self._maintenance = threading.Thread(
            target=self._maintain, name="gateway-maintenance", daemon=True
        )
        self._handlers: dict[type, Callable[[Frame], None]] = {
            CardRead: self._on_card,  # type: ignore[dict-item]
            QrScan: self._on_scan,  # type: ignore[dict-item]
            DoorChanged: self._on_door,  # type: ignore[dict-item]
            Hello: self._on_hello,  # type: ignore[dict-item]
            Heartbeat: self._on_heartbeat,  # type: ignore[dict-item]
        }

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        import serial  # pyserial: imported here so --help works without it

        self._port = serial.Serial(
            self.settings.serial, self.settings.baudrate, timeout=0.05, exclusive=True
        )
        self._link = Link(
            SerialTransport(self._port), on_frame=self._on_frame, on_closed=self._on_serial_closed
        )
        self._link.start()
        # Opening the port may reset the board; both ways, a hello starts the conversation.
        self._link.send(Hello(firmware=f"host-{__version__}"))
        self.uplink.start()
        self._maintenance.start()
        log.info(
            "gateway for hut %s on %s, broker %s",
            self.settings.hut,
            self.settings.serial,
            self.settings.mqtt_url,
        )

    def stop(self) -> None:
        self._stopping.set()
        self.uplink.stop()
        if self._link is not None:
            self._link.stop()
        if self._port is not None:
            self._port.close()
        if self._maintenance.is_alive():
            self._maintenance.join(timeout=2)
        self.outbox.close()

    def status(self) -> Status:
        return Status(
            hut=self.settings.hut,
            state=GatewayState.ONLINE,
            ts=self._clock(),
            firmware=self.controller.firmware,
            door=self.controller.door,
            controller="ok" if self.controller.firmware else "absent",
            allowlist=self.allowlist.version,
            outbox=self.outbox.depth(),
        )

    # -- controller frames ------------------------------------------------------------

    def _on_frame(self, frame: Frame) -> None:
        handler = self._handlers.get(type(frame))
        if handler is None:
            log.debug("ignored frame from controller: %r", frame)
            return
        try:
            with self._lock:
                self.controller.last_heard = self._monotonic()
                handler(frame)
        except Exception:  # one bad frame must not stop the serial reader
            log.exception("error handling %r", frame)

    def _on_card(self, frame: CardRead) -> None:
        card = frame.uid_hex
        now = self._monotonic()
        if self.allowlist.admits(card):
            # Unlock first: it must not wait on the disk or the network.
            self._send(Unlock(pulse_ms=self.settings.unlock_pulse_ms))
            self._send(Feedback(beep=Beep.OK, text=TEXT_WELCOME))
            session = self.sessions.start(card, now=now)
            decision = CardDecision.UNLOCKED
            log.info("card %s admitted, session %s", card, session.id)
        else:
            self._send(Feedback(beep=Beep.ERROR, text=TEXT_UNKNOWN_CARD))
            session = None
            decision = CardDecision.DENIED
            log.info("card %s denied (allowlist version %s)", card, self.allowlist.version)
        self._record(
            lambda seq: CardEvent(
                **self._envelope(seq),
                session=session.id if session else None,
                card=card,
                decision=decision,
            )
        )

    def _on_scan(self, frame: QrScan) -> None:
        text = frame.text[:MAX_SCAN_TEXT]
        session = self.sessions.touch(now=self._monotonic())
        if session is None:
            self._send(Feedback(beep=Beep.ERROR, text=TEXT_NO_SESSION))
        event = self._record(
            lambda seq: ScanEvent(
                **self._envelope(seq),
                session=session.id if session else None,
                card=session.card if session else None,
                text=text,
            )
        )
        if session is not None:
            with self._lock:
                self._awaiting_feedback[event.id] = (
                    self._monotonic() + self.settings.feedback_window_s
                )

    def _on_door(self, frame: DoorChanged) -> None:
        now = self._monotonic()
        state = DoorState.OPEN if frame.open else DoorState.CLOSED
        self.controller.door = state
        if frame.open:
            session = self.sessions.door_opened(now=now)
        else:
            session = self.sessions.door_closed(now=now)
            if session is not None:
                log.info("door closed, session %s ended", session.id)
        self._record(
            lambda seq: DoorEvent(
                **self._envelope(seq), session=session.id if session else None, state=state
            )
        )
        self.uplink.publish_status()

    def _on_hello(self, frame: Hello) -> None:
        log.info("controller says hello, firmware %s", frame.firmware)
        self.controller.firmware = frame.firmware
        self._record(
            lambda seq: ControllerEvent(
                **self._envelope(seq), state="hello", firmware=frame.firmware[:32]
            )
        )
        self.uplink.publish_status()

    def _on_heartbeat(self, frame: Heartbeat) -> None:
        pass  # last_heard is enough; silence detection comes with the health monitor

    def _on_serial_closed(self, exc: BaseException | None) -> None:
        log.error("serial device %s closed: %s", self.settings.serial, exc)
        self.controller.firmware = None
        self.uplink.publish_status()

    # -- server messages ----------------------------------------------------------------

    def _on_ack(self, batch: AckBatch) -> None:
        ids = [ack.id for ack in batch.acks]
        self.outbox.remove(ids)
        self.uplink.forget(ids)
        now = self._monotonic()
        for ack in batch.acks:
            with self._lock:
                deadline = self._awaiting_feedback.pop(ack.id, None)
            if ack.feedback is not None and deadline is not None and now <= deadline:
                self._send_feedback(ack.feedback)

    def _on_allowlist(self, payload: bytes) -> None:
        if self.allowlist.offer(payload):
            self.uplink.publish_status()

    def _on_command(self, command: Command) -> None:
        if command.expired(self._clock()):
            raise ContractError(
                f"command {command.id} ({command.action}) expired at {command.expires}"
            )
        if command.action == "unlock":
            self._send(Unlock(pulse_ms=self.settings.unlock_pulse_ms))
        if command.feedback is not None:
            self._send_feedback(command.feedback)

    # -- helpers ------------------------------------------------------------------------

    def _send_feedback(self, feedback: WireFeedback) -> None:
        try:
            frame = Feedback(beep=_BEEP_TO_FRAME[feedback.beep], text=feedback.text)
        except FrameError as exc:  # the contract and the display agree; log if they ever don't
            log.warning("feedback not shown: %s", exc)
            return
        self._send(frame)

    def _send(self, frame: Frame) -> None:
        if self._link is None:
            log.warning("no controller link; dropped %r", frame)
            return
        self._link.send(frame)

    def _envelope(self, seq: int) -> _Envelope:
        return {"id": new_id(), "hut": self.settings.hut, "seq": seq, "ts": self._clock()}

    def _record(self, build: Callable[[int], AnyEvent]) -> AnyEvent:
        event, stored = self.outbox.append(build)
        self.uplink.publish(stored)
        return event

    def _maintain(self) -> None:
        while not self._stopping.wait(1.0):
            try:
                self.uplink.resend_stale()
                now = self._monotonic()
                with self._lock:
                    for event_id, deadline in list(self._awaiting_feedback.items()):
                        if now > deadline:
                            del self._awaiting_feedback[event_id]
            except Exception:
                log.exception("gateway maintenance failed")
