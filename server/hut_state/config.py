"""The ``hut_state`` branch of ServerSettings (env ``TOOLHUT_SERVER_HUT_STATE__*``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from server.client_ids import unique_client_id

# A gateway republishes its status every 60 s by default (hut_gateway/settings.py,
# status_interval_s): three missed statuses and a margin make a hut offline.
GATEWAY_STATUS_INTERVAL_S = 60.0
DEFAULT_STALE_S = 3 * GATEWAY_STATUS_INTERVAL_S + 20.0


def _default_client_id() -> str:
    return unique_client_id("state")


class HutStateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stale_s: float = Field(
        DEFAULT_STALE_S,
        gt=0,
        description="a hut whose last status is older than this is marked offline (a hung "
        "gateway whose broker connection lives on never sends its last will); keep it "
        "above 3x the gateways' status_interval_s",
    )
    tick_s: float = Field(
        1.0,
        gt=0,
        description="how often this process marks stale huts offline and looks for hut "
        "states and alarms that other server processes changed (for the live stream)",
    )
    lookback_s: float = Field(
        10.0,
        gt=0,
        description="how far behind the newest change seen the look for other processes' "
        "changes starts (their commits may land late; server clocks must agree within it)",
    )
    coalesce_s: float = Field(
        0.2,
        ge=0,
        le=1,
        description="statuses arriving within this of the first are written in one "
        "transaction: at most 1/coalesce_s transactions a second, however many huts",
    )
    stream_queue: int = Field(
        256,
        ge=1,
        le=100_000,
        description="changes a live stream may fall behind by; then it is sent a fresh "
        "snapshot instead (a slow client never holds up the tracker or grows memory)",
    )
    stream_max_s: float = Field(
        300.0,
        gt=0,
        description="a live stream ends after this; the browser reconnects at once and is "
        "checked again (a revoked token or ended session stops receiving)",
    )
    client_id: str = Field(
        default_factory=_default_client_id,
        description="the tracker's own MQTT client id (unique per process)",
    )
