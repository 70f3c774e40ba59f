"""Where a planned message goes: one delivery per configured channel of its stage, with
the member's address and language on the channels that need an address.

Shared by every planner (loans, stock alerts, notices), so a message of any kind reaches
the same channels the same way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from server.domain.reminders import Audience
from server.reminders.channels import Channel
from server.storage.reminder_models import MemberContact

# (channel, address, locale): one delivery of a message, as reminder_queries writes it.
Target = tuple[str, str | None, str]
# A message's deliveries: (message id, channel, address, locale).
DeliveryRow = tuple[int, str, str | None, str]


@dataclass(frozen=True, slots=True)
class Recipients:
    """The configured channels, and the language of those without a member contact."""

    channels: Mapping[str, Channel]
    default_locale: str

    def targets(
        self,
        audience: Audience,
        names: Iterable[str],
        contacts: Mapping[str, MemberContact],
    ) -> list[Target]:
        """A channel the settings do not configure is skipped; one that needs an address
        reaches a member with a contact on it, and never staff."""
        targets: list[Target] = []
        for name in names:
            channel = self.channels.get(name)
            if channel is None:
                continue
            if channel.needs_address and audience is Audience.MEMBER:
                contact = contacts.get(name)
                if contact is not None:
                    targets.append((name, contact.address, contact.locale))
            elif not channel.needs_address:
                targets.append((name, None, self.default_locale))
        return targets


def delivery_rows(message_id: int, targets: Iterable[Target]) -> list[DeliveryRow]:
    return [(message_id, *target) for target in targets]
