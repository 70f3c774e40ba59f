"""What a scanned QR label says: a bare tag or the item page URL printed on it."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

TAG_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{0,31}$"
_TAG = re.compile(TAG_PATTERN)
_ITEM_PATH = "/i/"


def parse_scan_text(text: str) -> str | None:
    """The item tag in ``T0001`` or ``<any base>/i/T0001``; None if it holds no tag."""
    text = text.strip()
    if _ITEM_PATH in text:
        path = urlsplit(text).path if "://" in text else text.split("?")[0].split("#")[0]
        path = path.rstrip("/")
        at = path.rfind(_ITEM_PATH)
        if at < 0:
            return None
        text = unquote(path[at + len(_ITEM_PATH) :])
        if "/" in text:
            return None
    tag = text.upper()
    return tag if _TAG.fullmatch(tag) else None
