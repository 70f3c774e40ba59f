from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.api.deps import DbDep
from server.api.schemas import Health

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(db: DbDep, request: Request, response: Response) -> Health:
    try:
        db.execute(text("SELECT 1"))
        db_up = True
    except SQLAlchemyError as exc:
        log.warning("health check: database unavailable: %s", exc)
        db_up = False
    mqtt = bool(request.app.state.mqtt_connected())
    if not db_up:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if db_up and mqtt else "degraded", db=db_up, mqtt=mqtt)
