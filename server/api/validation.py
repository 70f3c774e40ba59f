"""The one 422 every route answers: FastAPI's list of errors, each naming its field
(``loc``), with its message (from the catalogues, Chinese first) and type, but never
the value sent. A request's values can
be a password (``/me/password``), a phone or a name, and a 422 is the answer most likely to
be logged or shown by a proxy or a client."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from server.api.field_messages import message

_KEPT = ("type", "loc", "msg")


def without_values(errors: Any) -> list[dict[str, Any]]:
    """Each error's type, field and message (the catalogue's: server.api.field_messages)."""
    return [
        {**{key: error[key] for key in _KEPT if key in error}, "msg": message(error)}
        for error in errors
    ]


async def _unprocessable(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": jsonable_encoder(without_values(exc.errors()))},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _unprocessable)
