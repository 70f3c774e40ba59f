"""The gateway's own Prometheus metrics, served on a local port (``metrics_port``,
``metrics_host``; docs/raspberry-pi.md, "Metrics").

Nothing is counted twice for them: a collector reads, when Prometheus scrapes, what the
gateway keeps anyway: the status it publishes (outbox depth, serial counters, controller,
alarms, allowlist), the outbox's sequence counter (every event ever recorded; those that
left the outbox are the ones the server acked) and the uplink's own counters. Each gateway
has a registry of its own, not the library's global one, so that several gateways in one
process (the tests, the bench) each serve their own numbers.

The port is the operator's: a gateway whose port is taken logs it and runs on without
metrics, since the hut must open its door whether or not anyone watches it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from threading import Thread
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from toolhut import __version__
from toolhut.contract import AlarmKind, Status, StatusCounters

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from hut_gateway.outbox import Outbox
    from hut_gateway.settings import GatewaySettings
    from hut_gateway.uplink import Uplink

log = logging.getLogger(__name__)

PREFIX = "toolhut_gateway"
CONTROLLER_STATES = ("ok", "silent", "absent")
# What went wrong on the serial wire, by kind (the status's counters of the same names):
# frames refused or lost, each one. Garbage is counted in bytes, reopens in opens: apart.
SERIAL_ERRORS = ("bad_crc", "oversize", "malformed", "unknown_type", "gave_up")


class GatewayCollector(Collector):
    def __init__(
        self, status: Callable[[], Status], *, outbox: Outbox, uplink: Uplink, hut: str
    ) -> None:
        self._status = status
        self._outbox = outbox
        self._uplink = uplink
        self._hut = hut

    def collect(self) -> Iterable[Metric]:
        status = self._status()
        recorded, depth = self._outbox.totals()
        counters = status.counters or StatusCounters()

        info = GaugeMetricFamily(
            f"{PREFIX}_info",
            "This gateway: its hut, its version and the controller's firmware (1)",
            labels=["hut", "version", "firmware"],
        )
        info.add_metric([self._hut, __version__, status.firmware or ""], 1)
        yield info

        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_depth",
            "Events in the outbox, not yet acked by the server",
            value=depth,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_events_recorded",
            "Events written to the outbox (its sequence counter: kept across restarts)",
            value=recorded,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_events_acked",
            "Events the server acked, so they left the outbox (kept across restarts)",
            value=recorded - depth,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_events_resent",
            "Events published again: not acked in time, or the server asked (sync)",
            value=self._uplink.resent,
        )

        yield GaugeMetricFamily(
            f"{PREFIX}_mqtt_connected",
            "1 while the gateway is connected to the broker",
            value=int(self._uplink.connected),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_mqtt_reconnects",
            "Connections to the broker after the first one",
            value=max(0, self._uplink.connections - 1),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_mqtt_rejected_messages",
            "MQTT messages refused: unsealed, forged, another hut's, a command retained, "
            "expired or replayed",
            value=counters.rejected_messages,
        )
        commands = CounterMetricFamily(
            f"{PREFIX}_commands",
            "Server commands taken from the broker, by action and what became of them",
            labels=["action", "result"],
        )
        for (action, result), count in sorted(self._uplink.command_counts().items()):
            commands.add_metric([action, result], count)
        yield commands

        yield CounterMetricFamily(
            f"{PREFIX}_serial_frames",
            "Good frames read from the controller",
            value=counters.frames,
        )
        errors = CounterMetricFamily(
            f"{PREFIX}_serial_errors",
            "Serial frames refused or lost, by kind (docs/serial-protocol.md)",
            labels=["kind"],
        )
        for kind in SERIAL_ERRORS:
            errors.add_metric([kind], getattr(counters, kind))
        yield errors
        yield CounterMetricFamily(
            f"{PREFIX}_serial_garbage_bytes",
            "Bytes on the serial line that were no frame (line noise)",
            value=counters.garbage_bytes,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_serial_reopens",
            "Times the serial device was opened again after it went away",
            value=counters.reopens,
        )

        controller = GaugeMetricFamily(
            f"{PREFIX}_controller_state",
            "The controller: ok, silent (no frame for too long) or absent (no device); "
            "1 for the current one",
            labels=["state"],
        )
        for state in CONTROLLER_STATES:
            controller.add_metric([state], int(status.controller == state))
        yield controller
        alarms = GaugeMetricFamily(
            f"{PREFIX}_alarm_active",
            "1 while the alarm is raised (by the controller or the gateway's backstop)",
            labels=["kind"],
        )
        for kind in AlarmKind:
            alarms.add_metric([kind.value], int(kind in (status.alarms or [])))
        yield alarms
        if status.door is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_door_open",
                "1 while the door is open, as the reed switch says",
                value=int(status.door == "open"),
            )
        if status.allowlist is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_allowlist_version",
                "Version of the allowlist the gateway decides cards with",
                value=status.allowlist,
            )


class GatewayMetrics:
    """The registry of one gateway and, when ``metrics_port`` is set, its HTTP server."""

    def __init__(
        self,
        status: Callable[[], Status],
        *,
        outbox: Outbox,
        uplink: Uplink,
        settings: GatewaySettings,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(
            GatewayCollector(status, outbox=outbox, uplink=uplink, hut=settings.hut)
        )
        self._host = settings.metrics_host
        self._port = settings.metrics_port
        self._server: tuple[WSGIServer, Thread] | None = None

    @property
    def port(self) -> int | None:
        """The port it listens on; None while it does not."""
        return None if self._server is None else int(self._server[0].server_port)

    def start(self) -> None:
        if not self._port or self._server is not None:
            return
        try:
            self._server = start_http_server(self._port, addr=self._host, registry=self.registry)
        except OSError as exc:
            log.error(
                "metrics not served: cannot listen on %s port %d: %s (the hut works on)",
                self._host,
                self._port,
                exc.strerror or exc,
            )
            return
        log.info("metrics at http://%s:%d/metrics", self._host, self.port)

    def stop(self) -> None:
        if self._server is None:
            return
        server, thread = self._server
        self._server = None
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)
