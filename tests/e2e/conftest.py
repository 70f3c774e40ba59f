from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "install: builds a fresh virtualenv and pip-installs the project (~30 s)"
    )
