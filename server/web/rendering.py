"""One template environment for every page, and ``render``: the page in its reader's
language, with the menu their role may see and the CSRF token its forms carry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from server.accounts.principal import Principal
from server.domain.roles import Role
from server.web import csrf, navigation
from server.web.language import other_languages, page_language
from toolhut.i18n import gettext, ngettext

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
STATIC_URL = "/static/site"

templates = Jinja2Templates(directory=TEMPLATES)
_HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


def translator(lang: str) -> Any:
    def _(message: str, **fields: Any) -> str:
        text = gettext(message, lang)
        return text.format(**fields) if fields else text

    return _


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """``name`` rendered for this request. Templates write ``_("English text")`` (or
    ``_("Due {date}", date=...)``) for every text; ``principal`` is who is signed in (the
    menu and the edit buttons follow their role)."""
    lang = page_language(request)
    path = request.url.path
    base = {
        "_": translator(lang),
        "ngettext": lambda s, p, n: ngettext(s, p, n, lang),
        "lang": lang,
        "html_lang": _HTML_LANG[lang],
        "other_languages": other_languages(lang),
        "csrf_field": csrf.FIELD,
        "csrf_token": csrf.token_for(request),
        "principal": principal,
        "role": principal.role if principal is not None else None,
        "role_names": navigation.ROLE_NAMES,
        # What the page may offer: edit buttons for staff and admins, admin's own pages.
        "can_edit": principal is not None and principal.allows(Role.STAFF),
        "is_admin": principal is not None and principal.allows(Role.ADMIN),
        "sections": navigation.sections_for(principal.role if principal else None),
        "current_section": navigation.current(path),
        "path": path,
        "static": STATIC_URL,
    }
    response = templates.TemplateResponse(
        request, name, {**base, **(context or {})}, status_code=status_code
    )
    csrf.remember(request, response)
    return response
