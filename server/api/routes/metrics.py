"""``/metrics``: the server's Prometheus metrics (server.metrics), for a signed-in viewer
or any higher role. They hold no personal data, but operational detail (how many huts are
offline, which alarms are open, how busy the ingest is) that strangers need not read:
Prometheus scrapes with a viewer account's API token (docs/operations.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from server.api.auth import ViewerOnly
from server.metrics import CONTENT_TYPE_LATEST, ServerMetrics

router = APIRouter(tags=["operations"], dependencies=[ViewerOnly])


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """The Prometheus text format."""
    registry: ServerMetrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
