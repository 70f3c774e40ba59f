"""The one error this package raises for anything a caller can fix."""

from __future__ import annotations


class LabelError(ValueError):
    """Bad label input (names, tags, URLs, layout, font, output): nothing has been written."""

    def __repr__(self) -> str:
        return f"LabelError({str(self)!r})"
