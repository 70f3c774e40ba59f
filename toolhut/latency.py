"""Process settings for the long-running parts a resident waits on (gateway, server).

- ``sys.setswitchinterval``: how long a thread may keep the GIL while another waits for it
  (Python's default: 5 ms). A thread woken by the serial port or the broker (the gateway's
  reader writing an unlock, the server's ingest worker with a scan) can be that other
  thread: at 1 ms its wait stays well under the few milliseconds the hut's answers may
  take. Inside C code (e.g. validating a large allowlist) no interval helps.
- ``gc.freeze`` after start-up: a full collection walks every object start-up made
  (imports, settings, the app): about 10 ms in the gateway and more in the server, with
  every thread stopped, at whatever moment it falls. Frozen, it walks only what came since.
"""

from __future__ import annotations

import gc
import sys

SWITCH_INTERVAL_S = 0.001


def prefer_short_waits() -> None:
    """Call at the start of a process that is the gateway's or the server's alone."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def freeze_start_up_objects() -> None:
    """Call once start-up is done: what exists now is never collected again."""
    gc.collect()
    gc.freeze()
