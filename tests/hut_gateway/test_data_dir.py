"""The gateway's data folder is its user's alone whatever the umask, and it keeps the
installation id that makes the MQTT client id unguessable."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from hut_gateway.data_dir import install_id
from tests.support.keys import TestKeys

# In a child process: the umask is process-wide, and pytest's other threads must not make
# files under 000. The gateway is built and given an allowlist and an event, not started.
MAKE_FILES = """
import json, os, sys
from pathlib import Path
os.umask(0)
from hut_gateway.gateway import Gateway
from hut_gateway.settings import GatewaySettings
from toolhut.contract import Allowlist, DoorEvent, DoorState, new_id, utc_now
from toolhut.hut_keys import HutCredentials
folder, credentials = Path(sys.argv[1]), Path(sys.argv[2])
settings = GatewaySettings(hut="h1", serial="/dev/null", data_dir=folder / "gw",
                           credentials_file=credentials, mqtt_url="mqtt://127.0.0.1:1")
gateway = Gateway(settings)
key = HutCredentials.load(credentials).hut_key
listed = Allowlist(hut="h1", version=1, issued=utc_now(), salt="s" * 8, cards=[])
assert gateway.allowlist.offer(listed.sealed(key))
gateway.outbox.append(lambda seq: DoorEvent(id=new_id(), hut="h1", seq=seq, ts=utc_now(),
                                            state=DoorState.OPEN))
print(json.dumps({p.name: oct(os.stat(p).st_mode & 0o777) for p in (folder / "gw").iterdir()}))
gateway.outbox.close()
"""


def test_folder_0700_and_every_file_0600_under_umask_000(tmp_path: Path) -> None:
    credentials = TestKeys(tmp_path).credentials_file("h1")
    made = subprocess.run(
        [sys.executable, "-c", MAKE_FILES, str(tmp_path), str(credentials)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    modes = json.loads(made.stdout)
    assert set(modes) == {
        "h1-outbox.sqlite3", "h1-outbox.sqlite3-wal", "h1-outbox.sqlite3-shm",
        "h1-allowlist.json", "install-id",
    }  # fmt: skip
    assert set(modes.values()) == {"0o600"}, modes
    assert stat.S_IMODE((tmp_path / "gw").stat().st_mode) == 0o700


def test_loose_modes_left_by_an_older_gateway_are_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "gw"
    folder.mkdir(mode=0o755)
    (folder / "install-id").write_text("0123456789abcdef\n")
    os.chmod(folder / "install-id", 0o644)
    assert install_id(folder) == "0123456789abcdef"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "install-id").stat().st_mode) == 0o600


def test_the_install_id_is_made_once_and_a_damaged_one_replaced(tmp_path: Path) -> None:
    first = install_id(tmp_path / "a")
    assert install_id(tmp_path / "a") == first  # a restart: the same id
    assert install_id(tmp_path / "b") != first  # another installation
    (tmp_path / "a" / "install-id").write_text("not an id")
    replaced = install_id(tmp_path / "a")
    assert replaced != first and len(replaced) == 16
    assert install_id(tmp_path / "a") == replaced
