"""``toolhut gateway``: run one hut's gateway until SIGTERM or Ctrl-C.

Settings: flags over ``TOOLHUT_GATEWAY_*`` over ``--config gateway.toml`` over defaults.
Bad settings exit with status 2 before anything is opened.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


# flag destination -> settings field, for the flags that set one
_FIELDS = (
    "hut",
    "serial",
    "mqtt_url",
    "topic_prefix",
    "credentials_file",
    "data_dir",
    "baudrate",
    "unlock_pulse_ms",
    "homeassistant",
    "homeassistant_prefix",
    "status_interval_s",
    "metrics_port",
    "metrics_host",
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="TOML file of settings, e.g. /etc/toolhut/gateway.toml (see deploy/gateway.toml)",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="print the resulting settings and exit: 0 if they are good, 2 if not",
    )
    parser.add_argument("--hut", help="this hut's id (env TOOLHUT_GATEWAY_HUT)")
    parser.add_argument("--serial", help="controller serial device (env TOOLHUT_GATEWAY_SERIAL)")
    parser.add_argument("--mqtt", dest="mqtt_url", help="broker URL, mqtt://host:port")
    parser.add_argument("--prefix", dest="topic_prefix", help="MQTT topic prefix")
    parser.add_argument(
        "--credentials",
        dest="credentials_file",
        metavar="FILE",
        help="this hut's credentials file from `toolhut server mqtt-auth` "
        "(env TOOLHUT_GATEWAY_CREDENTIALS_FILE)",
    )
    parser.add_argument("--data-dir", help="folder for the outbox and the allowlist")
    parser.add_argument("--baudrate", type=int)
    parser.add_argument("--unlock-pulse-ms", type=int)
    parser.add_argument(
        "--homeassistant",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="publish Home Assistant MQTT discovery messages",
    )
    parser.add_argument("--homeassistant-prefix", help="Home Assistant discovery prefix")
    parser.add_argument(
        "--status-interval", dest="status_interval_s", type=float, metavar="SECONDS"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve the gateway's Prometheus metrics on this port (0: off)",
    )
    parser.add_argument("--metrics-host", metavar="ADDRESS", help="address of the metrics port")
    parser.set_defaults(run=run)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {key: getattr(args, key) for key in _FIELDS if getattr(args, key, None) is not None}


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from hut_gateway.settings import ConfigFileError, GatewaySettings, describe_errors
    from toolhut.hut_keys import SecretFileError

    try:
        settings = GatewaySettings.load(config=args.config, overrides=overrides(args))
    except ConfigFileError as exc:
        print(f"toolhut gateway: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        source = f" (from flags, TOOLHUT_GATEWAY_* or {args.config})" if args.config else ""
        print(f"toolhut gateway: bad settings{source}:\n{describe_errors(exc)}", file=sys.stderr)
        return 2
    try:
        credentials = settings.credentials()
    except SecretFileError as exc:
        if args.check_config:
            print(settings.shown())
        print(f"toolhut gateway: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        print(settings.shown())
        return 0

    import os

    from hut_gateway.gateway import Gateway
    from hut_gateway.skewed_clock import SkewedClockError, clock_from_env
    from toolhut import latency

    try:
        clock = clock_from_env(os.environ)  # the real clock unless a test asks otherwise
    except SkewedClockError as exc:
        print(f"toolhut gateway: {exc}", file=sys.stderr)
        return 2
    latency.prefer_short_waits()  # this process is the gateway's alone
    gateway = Gateway(settings, credentials=credentials, clock=clock)
    # A missing serial device is not fatal: the gateway reports it absent and keeps
    # reopening it, and known cards still work the moment it is back.
    gateway.start()
    latency.freeze_start_up_objects()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        log.info("stopping gateway")
        gateway.stop()
    return 0
