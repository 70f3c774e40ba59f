"""The product's message catalogues: every text a person reads (hut display, page, reminder,
API error) is a message here, one gettext catalogue per language under ``locale/``.

The message id is the English text; ``locale/zh_CN`` holds the Chinese, the default
language, and ``locale/en`` the English (mostly the id itself). Code marks a text where it
is written and looks it up where it is shown:

- ``gettext(text, lang)`` for one person in one language (a page, a reminder, a display);
- ``bilingual(text)`` for a reader whose language nobody knows (an API error, a log of the
  hut's display): "中文 / English", Chinese first;
- ``N_(text)`` marks a text for extraction where it is only defined (a table of texts
  looked up later with ``gettext``).

Placeholders are ``str.format`` fields (``{name}``), filled after the lookup, so one
message serves every value. The catalogues are compiled (``.mo``) and both kinds of file
are committed: ``make messages`` extracts, updates and compiles them (Babel, a development
tool); at run time only the standard library's ``gettext`` reads them, so a gateway on a
Raspberry Pi needs nothing more. ``tests/test_i18n.py`` checks that the two files agree,
that every marked text has its Chinese, and that no Chinese literal is left in the code.
"""

from __future__ import annotations

import gettext as _gettext
from functools import cache
from pathlib import Path

DOMAIN = "toolhut"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT = "zh_CN"
LANGUAGES = ("zh_CN", "en")
# What a member's or a browser's language setting may say, to the catalogue it means.
_ALIASES = {
    "zh": "zh_CN",
    "zh-cn": "zh_CN",
    "zh_cn": "zh_CN",
    "zh-hans": "zh_CN",
    "zh-hans-cn": "zh_CN",
    "en": "en",
    "en-us": "en",
    "en-gb": "en",
    "en_us": "en",
    "en_gb": "en",
}


def language(value: str | None) -> str:
    """The catalogue for a language setting ("zh", "en-GB", None...): the default
    (Chinese) for anything not known."""
    if not value:
        return DEFAULT
    key = value.strip().lower()
    return _ALIASES.get(key) or _ALIASES.get(key.split("-")[0].split("_")[0], DEFAULT)


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (a name from LANGUAGES; anything else: the
    default's). Read once per process."""
    lang = lang if lang in LANGUAGES else DEFAULT
    return _gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang])


def gettext(message: str, lang: str = DEFAULT) -> str:
    """``message`` in ``lang``; the message itself (English) where the catalogue lacks it."""
    return translations(lang).gettext(message)


def ngettext(singular: str, plural: str, n: int, lang: str = DEFAULT) -> str:
    return translations(lang).ngettext(singular, plural, n)


def bilingual(message: str) -> str:
    """ "中文 / English" for a reader of either language; the English alone where the two
    are the same (a text with nothing to translate)."""
    zh, en = gettext(message, "zh_CN"), gettext(message, "en")
    return en if zh == en else f"{zh} / {en}"


def N_(message: str) -> str:  # noqa: N802 (the gettext convention's name)
    """Marks ``message`` for extraction; translated later, where it is shown."""
    return message
