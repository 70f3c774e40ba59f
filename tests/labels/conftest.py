"""Fixtures for label tests: the CJK font, and reading back what was drawn."""

from __future__ import annotations

import os

import pytest

from labels.fonts import CjkFont, find_font


@pytest.fixture(scope="session")
def font() -> CjkFont:
    # The package ships its CJK font, so a missing font is a failure, never a skip.
    return find_font(env=os.environ)
