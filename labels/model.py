"""What goes on a label: frozen, self-validating values built before any drawing."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from labels.errors import LabelError
from labels.texts import CARD_TITLE_EN, CARD_TITLE_ZH, ITEM_HINT
from toolhut.card_ref import MIN_KEY_BYTES, PREFIX, card_ref
from toolhut.contract import CARD_UID_PATTERN
from toolhut.hut_cards import ALL_CARDS

# A tag is printed in large type and becomes part of a URL path, so keep it URL-safe.
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
MAX_NAME_ZH = 32
MAX_NAME_EN = 60
MAX_HUT_NAME = 30
MAX_HINT = 16
MAX_PERSON_NAME = 30
MAX_BUILDING_UNIT = 30
MAX_URL = 200
MAX_CAPTION = 40
MAX_CARD_HINT = 80
STARS = 5
DEFAULT_HINT = ITEM_HINT

_TAG = re.compile(TAG_PATTERN)
_CARD = re.compile(CARD_UID_PATTERN)
_REF = re.compile(re.escape(PREFIX) + r"[A-Z2-7]{16}")


def _text(field: str, value: str, *, limit: int, required: bool = True) -> str:
    if not isinstance(value, str):
        raise LabelError(f"{field} must be text, got {type(value).__name__}")
    text = " ".join(value.split())  # newlines and runs of spaces would upset wrapping
    if required and not text:
        raise LabelError(f"{field} is empty")
    if len(text) > limit:
        raise LabelError(f"{field} is {len(text)} characters long; at most {limit} fit a label")
    bad = [ch for ch in text if unicodedata.category(ch) in {"Cc", "Cf", "Co", "Cs"}]
    if bad:
        raise LabelError(f"{field} holds unprintable characters {bad!r}")
    return text


def check_tag(tag: str) -> str:
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise LabelError(
            f"invalid tag {tag!r}: 1-32 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return tag


def check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise LabelError(
            f"base URL {base_url!r} needs a scheme and a host, e.g. https://{base_url.strip()}"
            if "://" not in base_url
            else f"base URL {base_url!r} must be http:// or https:// with a host"
        )
    if parts.query or parts.fragment:
        raise LabelError(f"base URL {base_url!r} must not carry a query or fragment")
    return base_url.strip().rstrip("/")


def item_url(base_url: str, tag: str) -> str:
    """The URL a label's QR code carries: ``<public base URL>/i/<tag>``."""
    return f"{check_base_url(base_url)}/i/{quote(check_tag(tag), safe='')}"


def _check_url(url: str) -> str:
    check_base_url(url)
    if len(url) > MAX_URL:
        raise LabelError(f"URL is {len(url)} characters long; at most {MAX_URL} keep the QR small")
    if any(ch.isspace() for ch in url):
        raise LabelError(f"URL {url!r} contains whitespace")
    return url


@dataclass(frozen=True, slots=True)
class ItemLabel:
    tag: str
    name_zh: str
    hut_name: str
    url: str
    name_en: str = ""
    hint: str = DEFAULT_HINT

    def __post_init__(self) -> None:
        check_tag(self.tag)
        object.__setattr__(self, "name_zh", _text("name_zh", self.name_zh, limit=MAX_NAME_ZH))
        object.__setattr__(
            self, "name_en", _text("name_en", self.name_en, limit=MAX_NAME_EN, required=False)
        )
        object.__setattr__(self, "hut_name", _text("hut_name", self.hut_name, limit=MAX_HUT_NAME))
        object.__setattr__(self, "hint", _text("hint", self.hint, limit=MAX_HINT, required=False))
        _check_url(self.url)

    @classmethod
    def for_item(
        cls,
        *,
        base_url: str,
        tag: str,
        name_zh: str,
        hut_name: str,
        name_en: str = "",
        hint: str = DEFAULT_HINT,
    ) -> ItemLabel:
        return cls(
            tag=tag,
            name_zh=name_zh,
            name_en=name_en,
            hut_name=hut_name,
            url=item_url(base_url, tag),
            hint=hint,
        )

    @property
    def payload(self) -> str:
        return self.url

    @property
    def key(self) -> str:
        return self.tag

    def texts(self) -> tuple[str, ...]:
        return (self.tag, self.name_zh, self.name_en, self.hut_name, self.hint)


@dataclass(frozen=True, slots=True)
class CardLabel:
    """A member card: the QR carries ``ref`` (``CARD:`` + a keyed hash of the UID, see
    toolhut.card_ref), never the UID; name and flat are printed only when given."""

    ref: str
    name: str = ""
    building_unit: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.ref, str) or not _REF.fullmatch(self.ref):
            raise LabelError(f"card reference {self.ref!r} is not {PREFIX}<16 base32 characters>")
        object.__setattr__(
            self, "name", _text("name", self.name, limit=MAX_PERSON_NAME, required=False)
        )
        object.__setattr__(
            self,
            "building_unit",
            _text("building_unit", self.building_unit, limit=MAX_BUILDING_UNIT, required=False),
        )

    @classmethod
    def for_card(
        cls, *, card_uid: str, key: bytes, name: str = "", building_unit: str = ""
    ) -> CardLabel:
        uid = card_uid.strip().upper() if isinstance(card_uid, str) else ""
        if not _CARD.fullmatch(uid):
            # The value itself stays out of the message: it is a credential.
            raise LabelError("invalid card_uid: 8-20 hexadecimal digits")
        if len(key) < MIN_KEY_BYTES:
            raise LabelError(f"card key must be at least {MIN_KEY_BYTES} bytes")
        return cls(ref=card_ref(uid, key=key), name=name, building_unit=building_unit)

    @property
    def payload(self) -> str:
        return self.ref

    @property
    def key(self) -> str:
        return "card"  # file names stay free of anything that identifies the card

    def texts(self) -> tuple[str, ...]:
        return (CARD_TITLE_ZH, CARD_TITLE_EN, self.name, self.building_unit, self.ref)


@dataclass(frozen=True, slots=True)
class HutCard:
    """A card that hangs in the hut by the scanner: the QR carries ``code`` (one of
    toolhut.hut_cards', exactly as the server parses it); the card says what it does in
    Chinese and English, and a rating card shows its score as stars (labels/hut_cards.py
    builds them)."""

    code: str
    caption_zh: str
    caption_en: str
    hint_zh: str
    hint_en: str
    score: int | None = None

    def __post_init__(self) -> None:
        if self.code not in ALL_CARDS:
            raise LabelError(f"{self.code!r} is not a hut card: one of {', '.join(ALL_CARDS)}")
        for field, limit in (
            ("caption_zh", MAX_CAPTION),
            ("caption_en", MAX_CAPTION),
            ("hint_zh", MAX_CARD_HINT),
            ("hint_en", MAX_CARD_HINT),
        ):
            object.__setattr__(self, field, _text(field, getattr(self, field), limit=limit))
        if self.score is not None and not 1 <= self.score <= STARS:
            raise LabelError(f"score {self.score!r}: 1 to {STARS}")

    @property
    def payload(self) -> str:
        return self.code

    @property
    def key(self) -> str:
        return self.code.lower().replace(":", "-")  # file names: cond-ok, rate-good...

    @property
    def stars(self) -> str:
        """``★★★☆☆`` for a score of 3; empty for a card with no score."""
        return "" if self.score is None else "★" * self.score + "☆" * (STARS - self.score)

    def texts(self) -> tuple[str, ...]:
        return (self.caption_zh, self.caption_en, self.stars, self.hint_zh, self.hint_en)


Label = ItemLabel | CardLabel | HutCard
