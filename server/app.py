"""Wiring: the FastAPI app, and the runtime that runs it next to the ingest worker."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.clock import Clock, OffsetClock
from server.hut_commands import CommandSender, no_broker
from server.hut_state.hub import LiveHub
from server.metrics import ServerMetrics
from server.settings import ServerSettings
from server.storage import make_engine, make_sessionmaker
from server.storage.in_use import Mark, mark_in_use
from server.storage.migrate import migrate_engine
from toolhut import latency

log = logging.getLogger(__name__)

DOCS_ASSETS_URL = "/static/docs"
SITE_ASSETS_URL = "/static/site"
GRACEFUL_SHUTDOWN_S = 5  # what uvicorn gives open requests at stop before cancelling them


def create_app(
    settings: ServerSettings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    sessions: sessionmaker[Session] | None = None,
    mqtt_connected: Callable[[], bool] = lambda: False,
    reminders: Any = None,
    commands: CommandSender = no_broker,
    hub: LiveHub | None = None,
    metrics: ServerMetrics | None = None,
) -> FastAPI:
    """The HTTP app on an already migrated database (``engine`` defaults to settings.db_url).

    ``sessions``: the process's session factory, if it has one, so the API's commits that
    change access reach the ingest worker listening on it (storage.access_changes).

    ``reminders`` is the ReminderService behind "remind now"; None builds one from settings.

    ``commands`` sends a command to a hut's gateway (the ingest worker's send_command);
    the default has no broker, so the routes that need one answer 503.

    ``clock``: the process's one clock (None: the one ``settings.clock`` describes). With
    ``settings.clock.enabled`` it must be an OffsetClock, and the clock routes are there;
    without, they are absent (404), whatever the clock.

    ``hub`` carries the live changes to the huts' stream (the hut-state tracker publishes
    into it); the default is a hub nobody publishes to: the stream sends its snapshot and
    then what another process changes never reaches it.

    ``metrics``: the runtime's (server.metrics, served at /metrics); None: a registry of
    this app's own, with the scrape-time gauges of its database.
    """
    from fastapi_offline import FastAPIOffline

    from server.api import validation
    from server.api.access_log import AccessLog
    from server.api.routes import (
        access,
        account,
        alarms,
        anomalies,
        audit,
        community,
        door_sessions,
        enrolments,
        health,
        huts,
        items,
        loans,
        ratings,
        supplies,
        users,
    )
    from server.api.routes import commands as command_routes
    from server.api.routes import members as member_routes
    from server.api.routes import metrics as metrics_route
    from server.api.routes import reminders as reminder_routes
    from server.api.routes import reports as report_routes
    from server.api.routes import transfer as transfer_routes
    from server.api.routes.records import RECORD_ROUTERS
    from server.api.security_headers import SecurityHeaders
    from server.api.throttle import FailureThrottle, SignInThrottle
    from server.reminders.scheduler import build_service
    from server.tabular.reading import Limits
    from server.tabular.sheets import registry
    from server.web import guard, resident_guard
    from server.web import rendering as web_rendering
    from server.web import routes as web

    # /docs and /redoc with their scripts served from the package, not a CDN: they work on a
    # hut's intranet with no internet, and where the CDN is slow or blocked (mainland China).
    app = FastAPIOffline(
        title="Tool hut server",
        version="1",
        static_url=DOCS_ASSETS_URL,
        swagger_ui_parameters={"validatorUrl": None},  # else Swagger UI asks an online validator
    )
    if clock is None:
        clock = settings.clock.clock()
    if settings.clock.enabled and not isinstance(clock, OffsetClock):
        raise ValueError("settings.clock.enabled needs an OffsetClock, the one clock it moves")
    app.state.settings = settings
    app.state.clock = clock
    if sessions is None:
        sessions = make_sessionmaker(engine or make_engine(settings.db_url))
    app.state.sessions = sessions
    app.state.metrics = metrics or ServerMetrics(sessions=sessions)
    app.state.mqtt_connected = mqtt_connected
    app.state.commands = commands
    app.state.live_hub = LiveHub(limit=settings.hut_state.stream_queue) if hub is None else hub
    app.state.token_throttle = FailureThrottle()  # wrong API tokens, per address
    app.state.sign_in_throttle = SignInThrottle()  # wrong passwords, per account and address
    app.state.resident_code_throttle = FailureThrottle(  # wrong sign-in codes, per address
        limit=settings.residents.code_attempts, window=timedelta(minutes=10)
    )
    # Codes by message asked for, matched or not: per address, and per phone number typed.
    app.state.resident_message_throttle = FailureThrottle(limit=10, window=timedelta(hours=1))
    app.state.resident_number_throttle = FailureThrottle(limit=3, window=timedelta(hours=1))
    app.state.reminders = reminders or build_service(
        settings.reminders,
        sessions=app.state.sessions,
        clock=clock,
        on_report=app.state.metrics.reminders,
    )
    routers = (
        *(account, users, audit),
        *(access, health, huts, enrolments, items, loans, door_sessions, supplies),
        *(reminder_routes, transfer_routes, member_routes, command_routes),
        *(alarms, anomalies, metrics_route, community, ratings, report_routes),
    )
    app.state.sheets = registry()  # kind -> Sheet, for import and export
    app.state.import_limits = Limits()
    for module in routers:
        app.include_router(module.router)
    for router in RECORD_ROUTERS:  # after supplies: /supplies/public before /supplies/{tag}
        app.include_router(router)
    if settings.clock.enabled:  # else absent: 404 for everyone, and not in /docs
        from server.api.routes import clock as clock_routes

        app.include_router(clock_routes.router)
    for router in web.ROUTERS:
        app.include_router(router)
    guard.install(app)
    resident_guard.install(app)
    app.mount(SITE_ASSETS_URL, StaticFiles(directory=web_rendering.STATIC), name="site")
    # FastAPIOffline's own docs routes (it leaves app.docs_url and app.redoc_url unset).
    docs = ["/docs", "/redoc", app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"]
    validation.install(app)  # every 422 names the fields, never echoes the values
    app.add_middleware(SecurityHeaders, docs_paths=docs)
    app.add_middleware(AccessLog)  # outermost: times and logs every answer, by its route
    return app


class ServerRuntime:
    """Migrations, the ingest worker, the reminders' and the alarms' loops and uvicorn in
    one process.

    ``start()`` returns once HTTP is listening (the demo runs this in-process);
    ``serve_forever()`` is the CLI's: it blocks until SIGTERM or Ctrl-C.
    """

    def __init__(self, settings: ServerSettings, *, clock: Clock | None = None) -> None:
        """``clock``: the one every part of the process reads (None: ``settings.clock``'s,
        the system's unless the settings let it be moved)."""
        self.settings = settings
        self.clock = settings.clock.clock() if clock is None else clock
        self.keyring: Any = None
        self.engine: Engine | None = None
        self.sessions: sessionmaker[Session] | None = None
        self.ingest: Any = None
        self.hut_state: Any = None  # the HutStateTracker
        self.hub: LiveHub | None = None
        self.reminders: Any = None  # the ReminderScheduler
        self.alarms: Any = None  # the AlarmLoop
        self.monthly: Any = None  # the MonthlyLoop of the monthly reports
        self.metrics: ServerMetrics | None = None
        self._in_use: Mark | None = None  # on a SQLite database: a restore must not run
        self._http: Any = None
        self._http_thread: threading.Thread | None = None
        self._unwatch_clock: Callable[[], None] | None = None

    @property
    def port(self) -> int:
        """The HTTP port actually bound (settings.port may be 0)."""
        if self._http is None or not self._http.servers:
            raise RuntimeError("server is not running")
        return int(self._http.servers[0].sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    def start(self, *, timeout: float = 15.0, freeze: bool = False) -> None:
        """Build everything, then start the threads. ``freeze``: collect and freeze what
        start-up made (toolhut.latency) before any thread runs, so that collection never
        falls on the first residents' scans (serve_forever; not for a process that goes
        on building things, as the demo and the tests do)."""
        import uvicorn

        from server.alarms.service import AlarmLoop, AlarmService
        from server.hut_state.tracker import HutStateTracker
        from server.ingest import IngestWorker
        from server.keys import server_keyring
        from server.reminders.scheduler import ReminderScheduler, build_service
        from server.reports.monthly_send import MonthlyLoop, MonthlySender

        # First: a malformed secret file stops the server before anything is touched.
        self.keyring = server_keyring(self.settings.secret_file)
        self._in_use = mark_in_use(self.settings.db_url)
        if self.settings.clock.enabled:
            log.warning("%s", self.settings.clock.warning)
        self.engine = make_engine(self.settings.db_url)
        migrate_engine(self.engine)
        sessions = self.sessions = make_sessionmaker(self.engine)
        metrics = self.metrics = ServerMetrics(sessions=sessions)
        ingest = IngestWorker(
            self.settings,
            sessions=sessions,
            keyring=self.keyring,
            clock=self.clock,
            metrics=metrics,
        )
        self.ingest = ingest
        self.hub = LiveHub(limit=self.settings.hut_state.stream_queue)
        self.hut_state = HutStateTracker(
            self.settings,
            sessions=sessions,
            keyring=self.keyring,
            hub=self.hub,
            clock=self.clock,
            on_lists=ingest.allowlists.reported,
        )
        service = build_service(
            self.settings.reminders,
            sessions=sessions,
            clock=self.clock,
            on_report=metrics.reminders,
        )
        metrics.channels(service.channels)
        self.reminders = ReminderScheduler(
            service, interval_s=self.settings.reminders.interval_s, clock=self.clock
        )
        # The alarms go out on the reminders' channels, in their own fast loop.
        alarms = AlarmService(
            settings=self.settings.alarms,
            reminders=self.settings.reminders,
            sessions=sessions,
            channels=service.channels,
            worker_id=service.worker_id,
        )
        self.alarms = AlarmLoop(alarms, clock=self.clock)
        monthly = MonthlySender(
            settings=self.settings.reports,
            reminders=self.settings.reminders,
            sessions=sessions,
            channels=service.channels,
            worker_id=f"{service.worker_id}/reports",
            console_url=self.settings.public_base_url,
        )
        self.monthly = MonthlyLoop(monthly, clock=self.clock)
        app = create_app(
            self.settings,
            clock=self.clock,
            sessions=sessions,
            mqtt_connected=lambda: ingest.connected,
            reminders=service,
            commands=ingest.send_command,
            hub=self.hub,
            metrics=metrics,
        )
        config = uvicorn.Config(
            app,
            host=self.settings.host,
            port=self.settings.port,
            log_config=None,  # keep the process's logging set-up
            lifespan="off",
            access_log=False,  # it logs paths whole: server.api.access_log logs routes
            # The live streams end when the hub closes (stop()); this is the backstop.
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            **_proxy_options(self.settings),
        )
        self._http = uvicorn.Server(config)
        if freeze:
            latency.freeze_start_up_objects()
        ingest.start()
        self.hut_state.start()
        if self.settings.reminders.enabled:
            self.reminders.start()
            if isinstance(self.clock, OffsetClock):
                # A move shows its reminders within a sweep, not after interval_s.
                self._unwatch_clock = self.clock.on_advance(self.reminders.wake)
        if self.settings.alarms.enabled:
            self.alarms.start()
        if self.settings.reports.monthly:
            self.monthly.start()
        # uvicorn only installs signal handlers on the main thread; this one is not.
        self._http_thread = threading.Thread(
            target=self._http.run, name="toolhut-http", daemon=True
        )
        self._http_thread.start()
        thread = self._http_thread
        if not _wait_for(lambda: self._http.started or not thread.is_alive(), timeout):
            self.stop()
            raise RuntimeError(f"HTTP server did not start within {timeout}s")
        if not self._http.started:
            self.stop()
            raise RuntimeError(
                f"HTTP server could not listen on {self.settings.host}:{self.settings.port}"
            )
        log.info("server listening on %s", self.base_url)

    def stop(self) -> None:
        if self.hub is not None:
            self.hub.close()  # first: uvicorn waits for open streams to end
        if self._http is not None:
            self._http.should_exit = True
        if self._http_thread is not None:
            self._http_thread.join(10)
            self._http_thread = None
        if self._unwatch_clock is not None:
            self._unwatch_clock()
            self._unwatch_clock = None
        if self.reminders is not None:
            self.reminders.stop()
            self.reminders = None
        if self.alarms is not None:
            self.alarms.stop()
            self.alarms = None
        if self.monthly is not None:
            self.monthly.stop()
            self.monthly = None
        if self.ingest is not None:
            self.ingest.stop()
            self.ingest = None
        if self.hut_state is not None:
            self.hut_state.stop()
            self.hut_state = None
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None
        if self._in_use is not None:
            self._in_use.release()
            self._in_use = None

    def serve_forever(self) -> int:
        """Run until SIGTERM or Ctrl-C; the exit code is 1 if HTTP died on its own."""
        code = 0
        done = threading.Event()

        def _stop(signum: int, _frame: Any) -> None:
            log.info("received %s; stopping", signal.Signals(signum).name)
            done.set()

        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        latency.prefer_short_waits()  # serve_forever: this process is the server's alone
        try:
            self.start(freeze=True)
            while not done.wait(1.0):
                if self._http_thread is None or not self._http_thread.is_alive():
                    log.error("HTTP server stopped unexpectedly")
                    code = 1
                    break
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return code


def _proxy_options(settings: ServerSettings) -> dict[str, Any]:
    """uvicorn's trust in X-Forwarded-*: only from the configured proxies, else none (its
    default would trust 127.0.0.1, and so anyone on the server's own machine)."""
    if settings.forwarded_allow_ips is None:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
