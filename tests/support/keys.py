"""One server secret per test, and what is derived from it: hut keys, the secret file a
server process reads, the credentials file a gateway process reads."""

from __future__ import annotations

import secrets
from pathlib import Path

from toolhut.hut_keys import SECRET_BYTES, HutKey, HutKeyring


class TestKeys:
    """Writes its files under ``folder``: ``server-secret`` and ``<hut>.credentials.toml``."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.secret = secrets.token_bytes(SECRET_BYTES)
        self.keyring = HutKeyring(self.secret)

    def key(self, hut: str) -> HutKey:
        return self.keyring(hut)

    @property
    def secret_file(self) -> Path:
        """The server secret as ``toolhut server`` reads it (TOOLHUT_SERVER_SECRET_FILE)."""
        path = self.folder / "server-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.secret.hex() + "\n")
            path.chmod(0o600)
        return path

    def credentials_file(self, hut: str, *, broker_user: bool = False) -> Path:
        """``hut``'s credentials file for its gateway (TOOLHUT_GATEWAY_CREDENTIALS_FILE);
        with its broker user and password only if ``broker_user`` (the test broker is
        anonymous)."""
        path = self.folder / f"{hut}.credentials.toml"
        credentials = self.keyring.credentials(hut)
        if not broker_user:
            credentials = type(credentials)(hut, credentials.key)
        credentials.write(path)
        return path
