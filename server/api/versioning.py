"""Which version of a record an edit was made on: ``If-Match`` (the ETag a GET gave) or
the body's ``version``. An edit without either is refused (428), so no client overwrites
another's change by leaving the check out; a stale one is a 409 with the current version."""

from __future__ import annotations

from fastapi import HTTPException, Request, Response, status

from toolhut.i18n import bilingual

_MAX_VERSION = 2**31 - 1  # the version columns are INTEGER (int4 on PostgreSQL)

TEXT_VERSION_NEEDED = bilingual(
    "say which version you edited: send If-Match (the ETag you read) or the body's version"
)
TEXT_STALE = bilingual("someone changed this record since you read it: reload it and edit again")


def etag(version: int) -> str:
    return f'"{version}"'


def with_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def expected_version(request: Request, body_version: int | None) -> int:
    header = request.headers.get("if-match")
    if header is not None:
        text = header.strip().removeprefix("W/").strip('"')
        if text.isdigit():
            return _bounded(int(text))
    if body_version is not None:
        return _bounded(body_version)
    raise HTTPException(status.HTTP_428_PRECONDITION_REQUIRED, TEXT_VERSION_NEEDED)


def _bounded(version: int) -> int:
    """A version no record can have (past the column's integers) as one that never
    matches: the edit is stale (409), not a database error."""
    return version if 0 <= version <= _MAX_VERSION else -1


def stale(current: int) -> HTTPException:
    return HTTPException(
        status.HTTP_409_CONFLICT,
        {"reason": "stale_version", "text": TEXT_STALE, "version": current},
        headers={"ETag": etag(current)},
    )
