"""For orchestrators: ``/healthz`` says the process answers (restart it if not), ``/readyz``
says it can do its work (send it traffic, start the huts that depend on it): the database
answers, the broker is connected, the database schema is this code's newest. Both are
public, as orchestrators do not sign in, and say nothing personal; a failed readiness is
a 503 that names the checks that failed."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.exc import SQLAlchemyError

from server.api.deps import DbDep
from server.api.schemas import Alive, Readiness
from server.storage.migrate import current_revision, head_revision
from toolhut.i18n import N_, bilingual, gettext

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

TEXT_NOT_READY = bilingual("the server is not ready: {en}")
# Each check's failure, listed in each language of TEXT_NOT_READY ({zh}, {en}).
CHECK_TEXTS = {
    "database": N_("the database does not answer"),
    "broker": N_("not connected to the MQTT broker"),
    "migrations": N_("the database schema is not at the newest migration"),
}


@router.get("/healthz")
def healthz() -> Alive:
    """Alive: the process answers HTTP. No database call: a database outage must not
    make an orchestrator restart every server."""
    return Alive(status="alive")


@router.get("/readyz")
def readyz(db: DbDep, request: Request, response: Response) -> Readiness:
    checks = {"database": False, "broker": bool(request.app.state.mqtt_connected())}
    try:
        # One query answers two checks: the database answers, and its schema's revision.
        revision = current_revision(db.connection())
        checks["database"] = True
    except SQLAlchemyError as exc:
        log.warning("readiness: database unavailable: %s", type(exc).__name__)
        revision = None
    checks["migrations"] = checks["database"] and revision == head_revision()
    failed = [name for name, ok in checks.items() if not ok]
    if not failed:
        return Readiness(ready=True, checks=checks, failed=[])
    response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    detail = TEXT_NOT_READY.format(
        zh="；".join(gettext(CHECK_TEXTS[name], "zh_CN") for name in failed),
        en="; ".join(gettext(CHECK_TEXTS[name], "en") for name in failed),
    )
    return Readiness(ready=False, checks=checks, failed=failed, detail=detail)
