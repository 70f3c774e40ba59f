"""The demo's prompt and a line from another thread that comes while readline is still
drawing the prompt: before the prompt is on the screen, or just after. Either way the
screen ends with the line on its own and one prompt after it (a real terminal shows the
same: tests/e2e/test_demo.py; here the two orders are forced, not left to timing)."""

from __future__ import annotations

import builtins
import io
from collections.abc import Callable

import pytest

from toolhut_cli import demo_console
from toolhut_cli.demo_console import _CLEAR_LINE, PROMPT, Console


class FakeReadline:
    """What the console asks of readline: the typed text, and the pre-input hook."""

    def __init__(self) -> None:
        self.hook: Callable[[], None] | None = None

    def get_line_buffer(self) -> str:
        return ""

    def set_pre_input_hook(self, hook: Callable[[], None] | None = None) -> None:
        self.hook = hook


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(text: str) -> list[str]:
    """What a terminal shows: each line as left after its last "clear line"."""
    return [line.rsplit(_CLEAR_LINE, 1)[-1].rsplit("\r", 1)[-1] for line in text.split("\n")]


@pytest.mark.parametrize("printed", ["before the prompt", "after the prompt"])
def test_a_line_printed_while_the_prompt_is_drawn_leaves_one_prompt(
    printed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeReadline()
    monkeypatch.setattr(demo_console, "readline", fake)
    out = Terminal()
    console = Console(stdin=Terminal(), stdout=out)

    def readline_input(prompt: str) -> str:
        # What readline does inside input(): draw the prompt, call the hook, read.
        if printed == "before the prompt":
            console.print("[hut] lock released for 30.0 s")
        out.write(prompt)
        if printed == "after the prompt":
            console.print("[hut] lock released for 30.0 s")
        assert fake.hook is not None
        fake.hook()
        out.write("door open")  # the person types
        return "door open"

    monkeypatch.setattr(builtins, "input", readline_input)
    assert console.read_line() == "door open"
    assert screen(out.getvalue()) == ["[hut] lock released for 30.0 s", f"{PROMPT}door open"]
    assert fake.hook is None  # not left behind for the next input()


def test_a_line_printed_at_the_prompt_redraws_it_with_what_was_typed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeReadline()
    monkeypatch.setattr(fake, "get_line_buffer", lambda: "door op")
    monkeypatch.setattr(demo_console, "readline", fake)
    out = Terminal()
    console = Console(stdin=Terminal(), stdout=out)

    def readline_input(prompt: str) -> str:
        out.write(prompt)
        assert fake.hook is not None
        fake.hook()
        out.write("door op")
        console.print("[hut] recv unlock pulse_ms=30000")
        out.write("en")
        return "door open"

    monkeypatch.setattr(builtins, "input", readline_input)
    assert console.read_line() == "door open"
    assert screen(out.getvalue()) == ["[hut] recv unlock pulse_ms=30000", f"{PROMPT}door open"]
