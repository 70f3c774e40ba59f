"""Spreadsheet formula injection: a cell that starts with = + - or @ is a formula to Excel
and WPS (``=HYPERLINK(...)`` in a member's name runs when staff open the export). Exports
put an apostrophe before such a cell, which both show as text; imports take it off again.

A value that itself starts with an apostrophe gets one more, so every value comes back as
it went out."""

from __future__ import annotations

_FORMULA_STARTS = ("=", "+", "-", "@")
_QUOTE = "'"


def protect(text: str) -> str:
    """``text`` as an exported cell: never read as a formula."""
    if text.startswith(_FORMULA_STARTS) or text.startswith(_QUOTE):
        return _QUOTE + text
    return text


def unprotect(text: str) -> str:
    """An imported cell's value: the apostrophe ``protect`` added taken off (a cell typed
    by hand as ``'abc`` keeps its apostrophe)."""
    if text.startswith(_QUOTE) and text[1:].startswith((*_FORMULA_STARTS, _QUOTE)):
        return text[1:]
    return text
