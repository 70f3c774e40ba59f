"""A member's fields as staff give them, checked and normalised once: the API's bodies
(create and edit) and the member sheet's rows are built from the same field types here, so
a phone or a flag means the same whichever way it came in.

Only what a field says on its own is checked here (no database): whether the huts named
exist, or a card is someone's, is server.records.members' business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
)

from server.card_uids import card_uid
from server.domain import MemberFlag
from server.domain.record_errors import FieldError
from toolhut.contract import HUT_ID_PATTERN, refuse_control_chars
from toolhut.i18n import bilingual

# What staff read: Chinese first, English beside it.
TEXT_PHONE = bilingual("a phone number is 5-20 digits, with + - and spaces allowed: {text!r}")
TEXT_FLAG = bilingual("unknown flag {flag!r}: one of {allowed}")
TEXT_HUT = bilingual("not a hut id: {hut!r}")
TEXT_LANGUAGE = bilingual("language is zh or en: {text!r}")
TEXT_CHANNEL = bilingual("not a channel name: {text!r}")
TEXT_EMAIL = bilingual("not an e-mail address: {text!r}")
TEXT_TWICE = bilingual("one contact per channel: {channel!r} is there twice")

# What a spreadsheet may write for a flag (staff's own words), and the flag it means.
FLAG_WORDS: dict[str, str] = {
    **{flag.value: flag.value for flag in MemberFlag},
    "60+": MemberFlag.SENIOR,
    "老人": MemberFlag.SENIOR,
    "老年人": MemberFlag.SENIOR,
    "长者": MemberFlag.SENIOR,
    "staff member": MemberFlag.STAFF,
    "员工": MemberFlag.STAFF,
    "工作人员": MemberFlag.STAFF,
}
LANGUAGE_WORDS: dict[str, str] = {
    "zh": "zh",
    "zh-cn": "zh",
    "中文": "zh",
    "chinese": "zh",
    "en": "en",
    "english": "en",
    "英文": "en",
}
# A list in one cell: commas (either width), semicolons, the enumeration comma.
_LIST_SEPARATORS = re.compile(r"[,，;；、]")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()\-]+$")
_CN_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_HUT_ID = re.compile(HUT_ID_PATTERN)
_CHANNEL = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_CHANNELS = frozenset({"email", "mail", "e-mail", "mailto"})


def _text(value: str) -> str:
    return refuse_control_chars(value).strip()


def phone_number(text: str) -> str:
    """``text`` as stored: separators dropped, a leading + kept; a Chinese mobile number
    given with its country code (+86, 0086, 86) as its 11 digits."""
    text = text.strip()
    if not _PHONE_CHARS.fullmatch(text):
        raise ValueError(TEXT_PHONE.format(text=text[:32]))
    plus = text.startswith("+")
    digits = re.sub(r"[^0-9]", "", text)
    for prefix in ("0086", "86"):
        rest = digits.removeprefix(prefix)
        if (plus or prefix == "0086" or len(digits) == 13) and _CN_MOBILE.fullmatch(rest):
            return rest
    if not 5 <= len(digits) <= 20:
        raise ValueError(TEXT_PHONE.format(text=text[:32]))
    return f"+{digits}" if plus else digits


def _items(value: Any) -> Any:
    """A cell's text as its list; a list as it is."""
    if isinstance(value, str):
        return [part.strip() for part in _LIST_SEPARATORS.split(value) if part.strip()]
    return value


def _flags(values: Iterable[str]) -> frozenset[str]:
    flags = set()
    for value in values:
        flag = FLAG_WORDS.get(value.strip().lower())
        if flag is None:
            allowed = ", ".join(sorted(flag.value for flag in MemberFlag))
            raise ValueError(TEXT_FLAG.format(flag=value[:32], allowed=allowed))
        flags.add(str(flag))
    return frozenset(flags)


def _huts(values: Iterable[str]) -> frozenset[str]:
    huts = set()
    for value in values:
        hut = value.strip()
        if not _HUT_ID.fullmatch(hut):
            raise ValueError(TEXT_HUT.format(hut=hut[:64]))
        huts.add(hut)
    return frozenset(huts)


def _language(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    language = LANGUAGE_WORDS.get(value.strip().lower())
    if language is None:
        raise ValueError(TEXT_LANGUAGE.format(text=value[:16]))
    return language


def _channel(text: str) -> str:
    channel = text.strip().lower()
    if not _CHANNEL.fullmatch(channel):
        raise ValueError(TEXT_CHANNEL.format(text=text[:32]))
    return channel


Name = Annotated[str, AfterValidator(_text), Field(min_length=1, max_length=100)]
BuildingUnit = Annotated[str, AfterValidator(_text), Field(min_length=1, max_length=32)]
Phone = Annotated[str, AfterValidator(phone_number), Field(max_length=40)]
Language = Annotated[Literal["zh", "en"], BeforeValidator(_language)]
Flags = Annotated[
    frozenset[str], BeforeValidator(_items), AfterValidator(_flags), Field(max_length=16)
]
Huts = Annotated[
    frozenset[str], BeforeValidator(_items), AfterValidator(_huts), Field(max_length=100)
]
CardUid = Annotated[str, AfterValidator(card_uid)]


class Contact(BaseModel):
    """Where the member hears reminders on ``channel`` (a channel of the reminders' config)."""

    channel: Annotated[str, AfterValidator(_channel)]
    address: Annotated[str, AfterValidator(_text), Field(min_length=1, max_length=200)]
    locale: Language = "zh"

    @field_validator("address", mode="after")
    @classmethod
    def _email(cls, address: str, info: Any) -> str:
        channel = info.data.get("channel")
        if (channel in EMAIL_CHANNELS or "@" in address) and not _EMAIL.fullmatch(address):
            raise ValueError(TEXT_EMAIL.format(text=address[:64]))
        return address


def _one_per_channel(contacts: list[Contact]) -> list[Contact]:
    seen: set[str] = set()
    for contact in contacts:
        if contact.channel in seen:
            raise ValueError(TEXT_TWICE.format(channel=contact.channel))
        seen.add(contact.channel)
    return contacts


Contacts = Annotated[list[Contact], AfterValidator(_one_per_channel), Field(max_length=8)]


class MemberFields(BaseModel):
    """What a new member is given, by the API or a sheet's row. ``huts`` empty: every
    hut; ``flags`` e.g. ["senior"]."""

    name: Name
    building_unit: BuildingUnit
    phone: Phone | None = None
    language: Language = "zh"
    flags: Flags = frozenset()
    huts: Huts = frozenset()


class MemberCreate(MemberFields):
    """A new member through the API, with the contacts reminders reach them on."""

    contacts: Contacts = []


class MemberEdit(BaseModel):
    """An edit: only the fields given change (``contacts`` given replaces them all;
    ``phone`` null clears it). ``version``: the one read, unless If-Match says it."""

    name: Name | None = None
    building_unit: BuildingUnit | None = None
    phone: Phone | None = None
    language: Language | None = None
    flags: Flags | None = None
    huts: Huts | None = None
    contacts: Contacts | None = None
    version: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class MemberRow(MemberFields):
    """A row of the member sheet: ``id`` None is a new member; ``card`` is bound on import."""

    id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    card: CardUid | None = None


def field_errors(error: ValidationError, *, line: int | None = None) -> list[FieldError]:
    """Pydantic's errors as FieldErrors, each naming its field ("contacts.0.address")."""
    found = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "row"
        reason = str(item["msg"]).removeprefix("Value error, ")
        found.append(FieldError(field, reason, line))
    return found
