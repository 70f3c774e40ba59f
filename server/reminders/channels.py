"""Notifier channels: Apprise for e-mail, WeCom bots, webhooks and SMS gateways, and the
hut display, which shows a line at the member's next visit."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from sqlalchemy.orm import Session, sessionmaker

from server.clock import Clock
from server.storage import reminder_queries

log = logging.getLogger(__name__)

DISPLAY = "display"


class DeliveryError(RuntimeError):
    """A channel could not deliver a message; the delivery is retried later."""


class ChannelConfigError(ValueError):
    """A channel URL that Apprise does not understand."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    title: str
    body: str
    display: str
    address: str | None  # from the member's contact, for channels that need one
    member_id: int | None


class Channel(Protocol):
    name: str

    @property
    def needs_address(self) -> bool: ...

    def send(self, message: Outgoing) -> None:
        """Deliver or raise DeliveryError."""


class StoredChannel(Channel, Protocol):
    """A channel whose delivery is a row in our own database: written in the transaction
    that records the delivery, so it happens exactly once (not at least once)."""

    def send_in(self, db: Session, message: Outgoing) -> None: ...


def stored(channel: Channel) -> StoredChannel | None:
    return channel if callable(getattr(channel, "send_in", None)) else None  # type: ignore[return-value]


def is_shared(channel: Channel) -> bool:
    """Read by more people than the member: a group bot, a webhook without {address}."""
    return not channel.needs_address and stored(channel) is None


def _apprise() -> Any:
    # Apprise's e-mail plugin, loaded lazily, probes for the stdlib module imghdr
    # (deprecated in 3.11, gone in 3.13); load it once here, without its warning.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        with contextlib.suppress(ImportError):
            import imghdr  # noqa: F401
        import apprise

    # Apprise logs what it sends, bodies at DEBUG (sign-in codes among them) and addresses
    # at INFO and WARNING: none of it reaches the process's log. A send's failure is read
    # through its own capture (AppriseChannel.send), with the address taken out.
    quiet = logging.getLogger("apprise")
    quiet.propagate = False
    quiet.setLevel(logging.WARNING)
    return apprise


class AppriseChannel:
    """One Apprise URL; ``{address}`` in it is replaced by the member's address, so
    ``mailto://smtp.example.org?to={address}`` or ``json://gw.example.org/sms?:to={address}``
    reach each member, and a URL without it (a WeCom group bot) reaches one group."""

    def __init__(self, name: str, url: str) -> None:
        apprise = _apprise()
        self.name = name
        self.url = url
        probe = apprise.Apprise()
        if not probe.add(url.replace("{address}", "probe%40example.org")):
            raise ChannelConfigError(f"channel {name!r}: Apprise does not accept its URL")

    @property
    def needs_address(self) -> bool:
        return "{address}" in self.url

    def send(self, message: Outgoing) -> None:
        apprise = _apprise()
        url = self.url
        if self.needs_address:
            if not message.address:
                raise DeliveryError(f"channel {self.name}: no address")
            url = url.replace("{address}", quote(message.address, safe=""))
        notifier = apprise.Apprise()
        if not notifier.add(url):
            raise DeliveryError(f"channel {self.name}: Apprise refused the URL for this address")
        # Apprise reports why a send failed only in its log: capture that for the retry row.
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            # Our bodies are plain text: said so, Apprise turns the line breaks into <br> for
            # the e-mail plugin's HTML instead of running every item line into one.
            ok = notifier.notify(
                title=message.title, body=message.body, body_format=apprise.NotifyFormat.TEXT
            )
            detail = _without(captured.getvalue().strip(), message.address)
        if not ok:
            raise DeliveryError(f"channel {self.name}: {detail or 'notification failed'}")


def _without(text: str, address: str | None) -> str:
    """``text`` with the member's address (as given and as put in the URL) taken out: a
    failure's detail is logged and stored for staff, the address is the member's own."""
    if not address:
        return text
    for form in {address, quote(address, safe="")}:
        text = text.replace(form, "(address)")
    return text


class DisplayChannel:
    """Stores the line; the ledger shows it when the member's card next opens the door."""

    name = DISPLAY
    needs_address = False

    def __init__(self, sessions: sessionmaker[Session], *, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def send(self, message: Outgoing) -> None:
        with self._sessions.begin() as db:
            self.send_in(db, message)

    def send_in(self, db: Session, message: Outgoing) -> None:
        if message.member_id is None or not message.display:
            return
        reminder_queries.add_display_message(
            db, member_id=message.member_id, text=message.display, now=self._clock()
        )


def build_channels(
    urls: Mapping[str, str], *, sessions: sessionmaker[Session], clock: Clock
) -> dict[str, Channel]:
    channels: dict[str, Channel] = {DISPLAY: DisplayChannel(sessions, clock=clock)}
    for name, url in urls.items():
        if name == DISPLAY:
            raise ChannelConfigError("channel name 'display' is the hut display's own")
        channels[name] = AppriseChannel(name, url)
    return channels
