"""The ``toolhut`` command line.

Each subcommand lives in the package it drives and is imported only when used, so
``toolhut gateway --help`` works on a Raspberry Pi that installed only the gateway extra.
A subcommand module defines ``configure(parser)``, which adds its arguments and sets
``run`` (a function taking the parsed namespace and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from toolhut import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "toolhut_cli.demo_cli",
        "run the all-in-one demo: broker, server, gateway, emulated hut",
    ),
    "server": ("server.cli", "run the lending server (HTTP API + MQTT ingest)"),
    "gateway": ("hut_gateway.cli", "run a hut gateway: serial controller <-> MQTT"),
    "emulator": ("firmware_bridge.cli", "emulate a hut controller on a pseudo-terminal"),
    "labels": ("labels.cli", "print QR labels for items and member cards"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toolhut", description="Community tool hut software.")
    parser.add_argument("--version", action="version", version=f"toolhut {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            # A part whose extra is not installed: say which one instead of failing.
            missing = exc.name or str(exc)
            child.set_defaults(run=_missing_extra(name, missing))
            continue
        module.configure(child)
    return parser


def _missing_extra(command: str, missing: str) -> Callable[[argparse.Namespace], int]:
    def run(_args: argparse.Namespace) -> int:
        print(
            f"toolhut {command}: needs {missing!r}, which is not installed here; "
            f"install the matching extra, e.g. pip install 'toolhut[{_EXTRA.get(command, 'dev')}]'",
            file=sys.stderr,
        )
        return 2

    return run


_OWN_PACKAGES = {"toolhut", "toolhut_cli", "firmware_bridge", "hut_gateway", "server", "labels"}
_EXTRA = {
    "demo": "demo",
    "server": "server",
    "gateway": "gateway",
    "emulator": "gateway",
    "labels": "labels",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        # A process started in the background by a non-interactive shell (a CI runner, an
        # init script) inherits SIGINT ignored, and Python then raises no KeyboardInterrupt:
        # every part here is stopped by Ctrl-C or SIGINT, so it always listens for it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:
        # Subcommands import their heavy dependencies when they run; a part whose extra is
        # not installed (a Pi with only the gateway extra running `toolhut server`) says so.
        if (exc.name or "").split(".")[0] in _OWN_PACKAGES:
            raise
        return _missing_extra(args.command, exc.name or str(exc))(args)


if __name__ == "__main__":
    sys.exit(main())
