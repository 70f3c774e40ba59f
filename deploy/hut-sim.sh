#!/bin/sh
# An emulated hut controller and its gateway in one container: a pseudo-terminal cannot be
# shared between containers. `docker compose attach hut` drives the emulator (card, scan,
# door open, door close); the gateway talks to it through the pty, as it would to USB serial.
set -eu
TTY=/tmp/hut.tty
(
  until [ -e "$TTY" ]; do sleep 0.2; done
  exec toolhut gateway --hut "${TOOLHUT_GATEWAY_HUT}" --serial "$TTY"
) &
exec toolhut emulator --link "$TTY"
