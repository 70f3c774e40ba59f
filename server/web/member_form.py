"""The member form of the console (add and edit): what it shows, read back from a post,
and checked by the same field types as the API's bodies (server.records.member_fields),
so a phone or a flag means the same whichever way it came in. Every refusal becomes a
message beside the field it names ("contacts.0.address" included)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from server.domain import MemberFlag
from server.records.member_fields import MemberCreate, MemberEdit
from server.storage.models import Member
from server.storage.reminder_models import MemberContact
from server.web.field_messages import field_errors
from server.web.forms import FormErrors
from toolhut.i18n import N_, gettext

CONTACT_ROWS = 3  # the contacts a form offers (the fields allow up to 8; nobody has more)

FLAG_CHOICES = (
    (MemberFlag.SENIOR.value, N_("Aged 60 or over (longer loans)")),
    (MemberFlag.STAFF.value, N_("Hut staff (opens at any hour, stocktakes)")),
)
LANGUAGE_CHOICES = (("zh", N_("Chinese")), ("en", N_("English")))

TEXT_BAD_VERSION = N_("The form lost the version it was read at: open the member again.")


def many(form: dict[str, Any], name: str) -> list[str]:
    """A field posted once, many times or not at all, as its list of texts."""
    value = form.get(name)
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str)]


def one(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@dataclass
class ContactDraft:
    channel: str = ""
    address: str = ""
    locale: str = "zh"


@dataclass
class MemberDraft:
    """What the form's fields hold: a member's record, or what was posted (to refill it)."""

    name: str = ""
    building_unit: str = ""
    phone: str = ""
    language: str = "zh"
    flags: set[str] = field(default_factory=set)
    huts: set[str] = field(default_factory=set)
    contacts: list[ContactDraft] = field(default_factory=list)
    version: str = ""

    def __post_init__(self) -> None:
        while len(self.contacts) < CONTACT_ROWS:
            self.contacts.append(ContactDraft())

    @classmethod
    def of_member(cls, member: Member, contacts: Iterable[MemberContact]) -> MemberDraft:
        return cls(
            name=member.name,
            building_unit=member.building_unit,
            phone=member.phone or "",
            language=member.language,
            flags=set(member.flags),
            huts=set(member.huts),
            contacts=[ContactDraft(c.channel, c.address, c.locale) for c in contacts],
            version=str(member.version),
        )

    @classmethod
    def of_form(cls, form: dict[str, Any]) -> MemberDraft:
        rows = max([CONTACT_ROWS, *(_contact_index(key) + 1 for key in form)])
        contacts = [
            ContactDraft(
                one(form, f"contacts.{n}.channel"),
                one(form, f"contacts.{n}.address"),
                one(form, f"contacts.{n}.locale") or "zh",
            )
            for n in range(min(rows, 8))
        ]
        return cls(
            name=one(form, "name"),
            building_unit=one(form, "building_unit"),
            phone=one(form, "phone"),
            language=one(form, "language") or "zh",
            flags=set(many(form, "flags")),
            huts=set(many(form, "huts")),
            contacts=contacts,
            version=one(form, "version"),
        )

    def body(self) -> dict[str, Any]:
        """The fields as the API's body gives them (a blank contact row is no contact)."""
        return {
            "name": self.name,
            "building_unit": self.building_unit,
            "phone": self.phone or None,
            "language": self.language,
            "flags": sorted(self.flags),
            "huts": sorted(self.huts),
            "contacts": [
                {"channel": c.channel, "address": c.address, "locale": c.locale}
                for c in self.contacts
                if c.channel or c.address
            ],
        }


def _contact_index(key: str) -> int:
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "contacts" and parts[1].isdigit():
        return int(parts[1])
    return -1


def to_create(draft: MemberDraft, lang: str) -> MemberCreate | FormErrors:
    try:
        return MemberCreate.model_validate(draft.body())
    except ValidationError as exc:
        return field_errors(exc, lang)


def to_edit(draft: MemberDraft, lang: str) -> MemberEdit | FormErrors:
    if not draft.version.isdigit():
        errors = FormErrors()
        errors.add(None, gettext(TEXT_BAD_VERSION, lang))
        return errors
    try:
        return MemberEdit.model_validate({**draft.body(), "version": int(draft.version)})
    except ValidationError as exc:
        return field_errors(exc, lang)
