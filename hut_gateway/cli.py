"""``toolhut gateway``: run one hut's gateway until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hut", help="this hut's id (env TOOLHUT_GATEWAY_HUT)")
    parser.add_argument("--serial", help="controller serial device (env TOOLHUT_GATEWAY_SERIAL)")
    parser.add_argument("--mqtt", dest="mqtt_url", help="broker URL, mqtt://host:port")
    parser.add_argument("--prefix", dest="topic_prefix", help="MQTT topic prefix")
    parser.add_argument("--data-dir", help="folder for the outbox and the allowlist")
    parser.add_argument("--baudrate", type=int)
    parser.add_argument("--unlock-pulse-ms", type=int)
    parser.set_defaults(run=run)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("hut", "serial", "mqtt_url", "topic_prefix", "data_dir", "baudrate", "unlock_pulse_ms")
    return {key: getattr(args, key) for key in keys if getattr(args, key, None) is not None}


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from hut_gateway.gateway import Gateway
    from hut_gateway.settings import GatewaySettings

    try:
        settings = GatewaySettings(**overrides(args))
    except ValidationError as exc:
        print(f"toolhut gateway: bad settings:\n{exc}")
        return 2
    gateway = Gateway(settings)
    try:
        gateway.start()
    except OSError as exc:
        log.error("cannot open serial device %s: %s", settings.serial, exc)
        gateway.stop()
        return 1
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
