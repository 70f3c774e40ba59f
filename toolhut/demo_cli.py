"""``toolhut demo``: the whole product on one machine, on embedded defaults."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8000, help="HTTP port of the console/API")
    parser.add_argument("--data-dir", type=Path, default=Path("data/demo"), help="SQLite, outbox")
    parser.add_argument(
        "--mqtt",
        default="mqtt://127.0.0.1:1883",
        help="broker to use when it answers; otherwise an embedded broker is started",
    )
    parser.add_argument("--hut", default="demo-hut", help="id of the emulated hut")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Every part is imported up front, so a missing extra is reported before anything starts.
    import amqtt  # noqa: F401

    import hut_gateway.gateway  # noqa: F401
    import server.app  # noqa: F401
    from toolhut.demo import Demo

    return Demo(port=args.port, data_dir=args.data_dir, mqtt_url=args.mqtt, hut=args.hut).run()
