"""The server secret, read (or made, the first time) where the settings say: every hut key
derives from it (toolhut/hut_keys.py)."""

from __future__ import annotations

import logging
from pathlib import Path

from toolhut.hut_keys import HutKeyring, load_or_create_secret

log = logging.getLogger(__name__)


def server_keyring(secret_file: Path) -> HutKeyring:
    """The keyring of the secret in ``secret_file``, created (random, 0600) if there is no
    file; SecretFileError for a file that is there but not a secret."""
    secret, created = load_or_create_secret(secret_file)
    if created:
        log.warning(
            "created a new server secret at %s: every hut's credentials derive from it, "
            "and every server process sharing this database must use this same file",
            secret_file.resolve(),
        )
    return HutKeyring(secret)
