"""Request dependencies, named so routes read like their signatures. Who is asking, and
may they: server.api.auth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from server.settings import ServerSettings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as db:
        yield db


def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def get_now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


DbDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]


def client_address(request: Request) -> str:
    """The client's address (behind a proxy: what uvicorn's forwarded_allow_ips trusts)."""
    return request.client.host if request.client is not None else "unknown"
