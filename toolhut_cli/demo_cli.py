"""``toolhut demo``: the whole product on one machine, on embedded defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

from toolhut.contract import DEFAULT_PREFIX


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=_port, default=8000, help="HTTP port of the API and the pages (8000)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data/demo"),
        help="SQLite ledger, gateway outbox and demo.log (data/demo); one folder per demo",
    )
    parser.add_argument(
        "--mqtt",
        default="mqtt://127.0.0.1:1883",
        help="broker to use when it answers; otherwise an embedded broker is started",
    )
    parser.add_argument("--hut", default="demo-hut", help="id of the emulated hut (demo-hut)")
    parser.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"first topic level(s) on the broker ({DEFAULT_PREFIX}): demos sharing a broker "
        "need different prefixes",
    )
    parser.set_defaults(run=run)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {port}")
    return port


def run(args: argparse.Namespace) -> int:
    from toolhut.contract import ContractError, Topics, check_hut_id
    from toolhut.mqtt import MqttUrlError
    from toolhut_cli.demo import Demo

    try:
        Topics(args.prefix)
        check_hut_id(args.hut)
        demo = Demo(
            port=args.port,
            data_dir=args.data_dir,
            mqtt_url=args.mqtt,
            hut=args.hut,
            prefix=args.prefix,
        )
    except (ContractError, MqttUrlError) as exc:
        print(f"toolhut demo: {exc}")
        return 2
    return demo.run(log_level=args.log_level)
