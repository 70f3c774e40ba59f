"""No default secret: the server refuses a placeholder or short staff token at start, in
one line that does not repeat the token."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from server.settings import MIN_STAFF_TOKEN, ServerSettings

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")


@pytest.mark.parametrize(
    "token",
    ["change-me", "changeme", "CHANGE_ME", "secret", "password", "change-me-before-going-live"],
)
def test_a_placeholder_token_is_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="known placeholder"):
        ServerSettings(staff_token=token)


def test_a_short_token_is_refused_and_a_random_one_kept() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        ServerSettings(staff_token="x7Gq-2pLk-9Vw")
    token = "x7Gq-2pLk-9Vw-4Tz"
    assert len(token) >= MIN_STAFF_TOKEN
    settings = ServerSettings(staff_token=token)
    assert settings.staff_token is not None and settings.staff_token.get_secret_value() == token
    assert ServerSettings().staff_token is None  # unset: nobody is staff


@pytest.mark.parametrize("token", ["change-me", "short-but-mine"])
def test_the_server_will_not_start_and_says_why_in_one_line(tmp_path: Path, token: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "toolhut_cli.cli", "server", "--staff-token", token,
         "--db", f"sqlite:///{tmp_path}/never.sqlite3", "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    # Log lines of imports aside (time-stamped), the error is one line, and no traceback.
    lines = [line for line in result.stderr.splitlines() if not LOG_LINE.match(line)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("toolhut server: bad settings: staff_token: 员工令牌"), lines[0]
    assert token not in result.stderr and token not in result.stdout
    assert not (tmp_path / "never.sqlite3").exists()
