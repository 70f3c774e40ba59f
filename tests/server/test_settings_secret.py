"""Bad settings stop the server at start in one line, without a traceback; the shared
staff token of old is gone (accounts replaced it), and a deployment still setting it is
told so."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from server.cli import LEFTOVER_STAFF_TOKEN, TEXT_LEFTOVER_STAFF_TOKEN, leftover_settings
from server.settings import ServerSettings

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")


def test_the_server_will_not_start_and_says_why_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "toolhut_cli.cli", "server",
         "--db", f"sqlite:///{tmp_path}/never.sqlite3", "--port", "70000"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    # Log lines of imports aside (time-stamped), the error is one line, and no traceback.
    lines = [line for line in result.stderr.splitlines() if not LOG_LINE.match(line)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("toolhut server: bad settings: port: "), lines[0]
    assert not (tmp_path / "never.sqlite3").exists()


def test_there_is_no_staff_token_setting_any_more() -> None:
    with pytest.raises(ValidationError, match="staff_token"):
        ServerSettings(staff_token="x7Gq-2pLk-9Vw-4Tz-long-enough")  # type: ignore[call-arg]


def test_a_leftover_staff_token_in_the_environment_is_named() -> None:
    assert leftover_settings({LEFTOVER_STAFF_TOKEN: "anything"}) == [TEXT_LEFTOVER_STAFF_TOKEN]
    assert leftover_settings({"TOOLHUT_SERVER_PORT": "8000"}) == []
    assert "anything" not in TEXT_LEFTOVER_STAFF_TOKEN
