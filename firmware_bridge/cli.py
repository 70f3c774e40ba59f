"""``toolhut emulator``: a hut controller on a pseudo-terminal, driven from stdin."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--link", metavar="PATH", help="also make PATH a symlink to the pty (removed on exit)"
    )
    parser.add_argument(
        "--firmware",
        default="emu-1.0.0",
        metavar="VERSION",
        help="firmware version announced in Hello (default: %(default)s)",
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="heartbeat period (default: %(default)s)",
    )
    parser.add_argument(
        "--held-open",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="raise the held-open alarm after the door stood open this long; "
        "0 turns it off (default: %(default)s)",
    )
    parser.add_argument("--verbose", action="store_true", help="also print heartbeats")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import signal
    import sys

    from firmware_bridge.emulator import ControllerEmulator, EmulatorError
    from firmware_bridge.frames import FrameError

    def on_sigterm(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if args.heartbeat <= 0:
        print("error: --heartbeat must be positive", file=sys.stderr)
        return 2
    if args.held_open < 0:
        print("error: --held-open must be positive, or 0 for off", file=sys.stderr)
        return 2
    try:
        emulator = ControllerEmulator(
            firmware=args.firmware,
            heartbeat_s=args.heartbeat,
            link_path=args.link,
            verbose=args.verbose,
            held_open_s=args.held_open or None,
        )
    except FrameError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        emulator.start()
        for line in sys.stdin:
            emulator.command(line)
            if emulator.quit_requested.is_set():
                break
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0
