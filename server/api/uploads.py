"""An uploaded spreadsheet, read from a multipart form and counted while it arrives: a file
over the import limit is refused (413) without being read to its end. One reader for the
API's import and the console's import page, so both refuse the same files the same way."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePath

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from server.tabular.reading import Limits, too_large
from toolhut.i18n import bilingual

TEXT_NO_FILE = bilingual("upload a file (form field file)")
TEXT_BAD_FORM = bilingual("cannot read the uploaded form")

FILE_FIELD = "file"
FORM_OVERHEAD = 64 * 1024  # the multipart boundaries, part headers and small fields
NAME_LIMIT = 64  # the audit log's entity id
MAX_FIELD_CHARS = 1000  # the form's other fields (a kind, a CSRF token): short


@dataclass(frozen=True, slots=True)
class Upload:
    """The file's bytes, its name (without any folder), and the form's other fields."""

    data: bytes
    filename: str
    fields: dict[str, str] = field(default_factory=dict)


def limits_of(request: Request) -> Limits:
    limits: Limits = request.app.state.import_limits
    return limits


def too_large_error(limits: Limits) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large(limits))


def missing(reason: str) -> RequestValidationError:
    error = {"type": "value_error", "loc": ("body", FILE_FIELD), "msg": reason, "input": None}
    return RequestValidationError([error])


async def _capped(stream: AsyncIterator[bytes], limits: Limits) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > limits.max_bytes + FORM_OVERHEAD:
            raise too_large_error(limits)
        yield chunk


async def read_upload(request: Request, limits: Limits) -> Upload:
    """The form's file (field ``file``) and its other fields; 413 past ``limits``, 422
    without a file."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limits.max_bytes + FORM_OVERHEAD:
        raise too_large_error(limits)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise missing(TEXT_NO_FILE)
    parser = MultiPartParser(
        request.headers, _capped(request.stream(), limits), max_files=1, max_fields=8
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise missing(TEXT_BAD_FORM) from exc
    try:
        upload = form.get(FILE_FIELD)
        if not isinstance(upload, UploadFile):
            raise missing(TEXT_NO_FILE)
        data = await upload.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            raise too_large_error(limits)
        name = PurePath((upload.filename or "").replace("\\", "/")).name or "upload"
        fields = {
            key: value[:MAX_FIELD_CHARS]
            for key, value in form.multi_items()
            if isinstance(value, str)
        }
    finally:
        await form.close()
    return Upload(data, name[-NAME_LIMIT:], fields)
