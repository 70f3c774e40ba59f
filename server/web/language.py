"""Which language a browser reads: Chinese unless it switched (the language link of every
page sets a cookie); ``?lang=en`` on a link works for one page too."""

from __future__ import annotations

from fastapi import Request

from toolhut.i18n import DEFAULT, LANGUAGES, language

LANG_COOKIE = "toolhut_lang"
# The language link's label, in its own language (what a reader of it looks for).
SWITCH_LABELS = {"zh_CN": "中文", "en": "English"}


def page_language(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return language(chosen) if chosen else DEFAULT


def other_languages(current: str) -> list[tuple[str, str]]:
    return [(lang, SWITCH_LABELS[lang]) for lang in LANGUAGES if lang != current]
