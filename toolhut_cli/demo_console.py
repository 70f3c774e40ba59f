"""The demo's terminal: the ``hut>`` prompt, and lines from other threads printed above it.

At a terminal, a line printed while the person is typing would land on the prompt's line,
after the half-typed command; here it clears that line, prints, and draws the prompt and
what was typed so far again (readline keeps it). A line printed while readline is still
drawing the prompt (the GIL may let another thread in just then) is printed on a line of
its own, and once readline says the prompt is up (its pre-input hook) the prompt's line is
drawn again: whichever came first on the screen, one prompt, on a line of its own.
Logging goes to a file, except warnings, which the person should see.
"""

from __future__ import annotations

import logging
import os
import select
import signal
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
        self._at_prompt = False  # the prompt is up: readline reads what is typed
        self._drawing = False  # input() was called; the prompt may not be on screen yet
        self._printed_while_drawing = False
        self._wakeup: _SignalWakeup | None = None
        self._piped: _PipedLines | None = None

    def print(self, text: str) -> None:
        """Safe from any thread; never shares the prompt's line."""
        with self._lock:
            if self._drawing:
                # Before or after readline's prompt: either way on a line of its own, and
                # the prompt is drawn again when readline says it is up (_prompt_up).
                self._stdout.write(f"{_CLEAR_LINE}{text}\n")
                self._printed_while_drawing = True
            elif self._at_prompt:
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
            if self._piped is None:
                self._piped = _PipedLines(self._stdin.fileno(), self._signal_wakeup())
            return self._piped.read_line()
        with self._lock:
            if readline is None:
                self._at_prompt = True
            else:
                self._drawing, self._printed_while_drawing = True, False
                readline.set_pre_input_hook(self._prompt_up)
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
                self._at_prompt = self._drawing = False
            if readline is not None:
                readline.set_pre_input_hook(None)

    def _prompt_up(self) -> None:
        """readline's pre-input hook: its prompt is on the screen, nothing typed yet."""
        with self._lock:
            if self._printed_while_drawing:
                self._stdout.write(f"{_CLEAR_LINE}{self.prompt}")
                self._stdout.flush()
            self._drawing, self._at_prompt = False, True

    def wait_for_signal(self) -> None:
        """Until Ctrl-C or SIGTERM (their handlers raise); main thread only."""
        wakeup = self._signal_wakeup()
        while True:
            wakeup.wait()

    def _signal_wakeup(self) -> _SignalWakeup:
        if self._wakeup is None:
            self._wakeup = _SignalWakeup()
        return self._wakeup


class _SignalWakeup:
    """A pipe the signal module writes a byte to whenever a signal arrives, in any thread.

    Python runs signal handlers in the main thread only; when the kernel hands SIGTERM or
    SIGINT to another of the demo's threads, a read() or wait blocked in the main thread is
    not interrupted, and the demo would go on as if nothing came. Waiting in select() on
    this pipe too wakes the main thread, which then runs the handler. Main thread only.
    """

    def __init__(self) -> None:
        self.fd, write_end = os.pipe()
        for end in (self.fd, write_end):
            os.set_blocking(end, False)
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)

    def wait(self, *fds: int) -> list[int]:
        """Block until a signal comes (its handler runs as this thread goes on) or one of
        ``fds`` is readable; returns the readable ones of ``fds``."""
        ready, _, _ = select.select([self.fd, *fds], [], [])
        if self.fd in ready:
            os.read(self.fd, 512)
        return [fd for fd in ready if fd != self.fd]


class _PipedLines:
    """Lines from a pipe, waited for so that a signal stops the wait at once."""

    def __init__(self, fd: int, wakeup: _SignalWakeup) -> None:
        self._fd = fd
        self._wakeup = wakeup
        self._pending = b""
        self._eof = False

    def read_line(self) -> str | None:
        while b"\n" not in self._pending and not self._eof:
            if self._wakeup.wait(self._fd):
                chunk = os.read(self._fd, 4096)
                self._pending += chunk
                self._eof = not chunk
        if not self._pending:
            return None
        line, newline, self._pending = self._pending.partition(b"\n")
        return (line + newline).decode("utf-8", errors="replace")


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
