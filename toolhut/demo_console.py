"""The demo's terminal: the ``hut>`` prompt, and lines from other threads printed above it.

At a terminal, a line printed while the person is typing would land on the prompt's line,
after the half-typed command; here it clears that line, prints, and draws the prompt and
what was typed so far again (readline keeps it). Logging goes to a file, except warnings,
which the person should see.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

try:  # line editing and history at the prompt; absent on some platforms
    import readline
except ImportError:  # pragma: no cover
    readline = None  # type: ignore[assignment]

PROMPT = "hut> "
_CLEAR_LINE = "\r\x1b[K"  # to the start of the line, and erase it


class Console:
    def __init__(
        self, *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout, prompt: str = PROMPT
    ) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self.prompt = prompt
        self.interactive = stdin.isatty() and stdout.isatty()
        self._lock = threading.Lock()
        self._at_prompt = False

    def print(self, text: str) -> None:
        """Safe from any thread; never shares the prompt's line."""
        with self._lock:
            if self._at_prompt:
                # readline draws only what changes; the prompt and the typed text are redrawn
                # by hand (its redisplay() would think the screen unchanged).
                typed = readline.get_line_buffer() if readline is not None else ""
                self._stdout.write(f"{_CLEAR_LINE}{text}\n{self.prompt}{typed}")
            else:
                self._stdout.write(text + "\n")
            self._stdout.flush()

    def read_line(self) -> str | None:
        """The next command, or None at the end of input."""
        if not self.interactive:
            line = self._stdin.readline()
            return line if line else None
        with self._lock:
            self._at_prompt = True
        try:
            return input(self.prompt)  # readline's, when stdin is the terminal
        except EOFError:
            self._stdout.write("\n")
            return None
        except KeyboardInterrupt:
            self._stdout.write("\n")  # what comes next starts on a line of its own
            raise
        finally:
            with self._lock:
                self._at_prompt = False


class ConsoleHandler(logging.Handler):
    """Log records through the console, so they too stay off the prompt's line."""

    def __init__(self, console: Console, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self._console = console
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._console.print(self.format(record))
        except Exception:  # a failing log line must not take the demo down
            self.handleError(record)


def log_to_file(console: Console, *, path: Path, level: int | str) -> None:
    """All records at ``level`` and up to ``path``; WARNING and up also to the console."""
    path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handlers: list[Any] = [file_handler, ConsoleHandler(console)]
    logging.basicConfig(level=level, handlers=handlers, force=True)
