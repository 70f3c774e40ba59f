"""A ``toolhut`` process on a real pseudo-terminal, read as a person's screen shows it."""

from __future__ import annotations

import codecs
import os
import re
import subprocess
import sys
import threading

from tests.support.processes import ToolhutProcess

_CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def screen_line(raw: str) -> str:
    """What a terminal leaves on a line: a carriage return starts it over, and control
    sequences (erase line, bracketed-paste mode) show nothing."""
    return _CSI.sub("", raw.rstrip("\r").rsplit("\r", 1)[-1])


class TerminalProcess(ToolhutProcess):
    """stdin, stdout and stderr on one pty, as in a terminal window; ``lines`` holds the
    screen lines and ``raw`` what was written, control bytes and all."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.lines: list[str] = []
        self.raw: list[str] = []
        import queue

        self._queue: queue.Queue[str] = queue.Queue()
        self._master, slave = os.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "toolhut_cli.cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "TERM": "xterm", "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,  # the pty becomes its controlling terminal
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        while True:
            try:
                chunk = os.read(self._master, 4096)
            except OSError:  # EIO: every process holding the pty has closed it
                break
            if not chunk:
                break
            pending += decoder.decode(chunk)
            *complete, pending = pending.split("\n")
            for raw in complete:
                self.raw.append(raw)
                line = screen_line(raw)
                self.lines.append(line)
                self._queue.put(line)
        os.close(self._master)

    def send(self, line: str) -> None:
        os.write(self._master, (line + "\r").encode())  # Enter, as a keyboard sends it

    def type_partly(self, text: str) -> None:
        """Keys typed without Enter: a command still being written."""
        os.write(self._master, text.encode())
