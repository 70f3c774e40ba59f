"""A private Mosquitto process, configured as production should be (TCP_NODELAY on), for
tests and benchmarks on a machine that has the binary but no suitable broker running.

By default anyone may connect. With ``auth`` it uses the password and ACL files that
``toolhut server mqtt-auth`` writes and refuses anonymous clients; with ``tls`` its one
listener speaks TLS only, with the given CA, certificate and key.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from toolhut.mqtt import MqttEndpoint, TlsFiles
from toolhut_cli.embedded_broker import free_port


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    sbin = Path("/usr/sbin/mosquitto")
    return str(sbin) if sbin.exists() else None


@dataclass(frozen=True, slots=True)
class BrokerAuth:
    password_file: Path
    acl_file: Path


@dataclass(frozen=True, slots=True)
class BrokerTls:
    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = False  # clients must show a certificate signed by the CA


class MosquittoProcess:
    def __init__(
        self,
        binary: str,
        *,
        port: int | None = None,
        auth: BrokerAuth | None = None,
        tls: BrokerTls | None = None,
    ) -> None:
        client_tls = None if tls is None else TlsFiles(ca_file=tls.ca_file)
        self.endpoint = MqttEndpoint("127.0.0.1", port or free_port(), tls=client_tls)
        self._binary = binary
        self._auth = auth
        self._tls = tls
        self._dir = tempfile.TemporaryDirectory(prefix="toolhut-mosquitto-")
        self._log = Path(self._dir.name) / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        lines = [
            f"listener {self.endpoint.port} 127.0.0.1",
            # Without it Nagle's algorithm meets delayed acks: about 40 ms per hop.
            "set_tcp_nodelay true",
            "persistence false",
            "max_queued_messages 100000",
        ]
        if self._tls is not None:
            lines += [
                f"cafile {self._tls.ca_file}",
                f"certfile {self._tls.cert_file}",
                f"keyfile {self._tls.key_file}",
                f"require_certificate {str(self._tls.require_certificate).lower()}",
            ]
        if self._auth is None:
            lines.append("allow_anonymous true")
        else:
            lines += [
                "allow_anonymous false",
                f"password_file {self._auth.password_file}",
                f"acl_file {self._auth.acl_file}",
            ]
        if os.geteuid() == 0:
            # Started by root, Mosquitto would drop to user "mosquitto" before reading the
            # password and ACL files, which are 0600 and root's here.
            lines.append("user root")
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> MqttEndpoint:
        conf = Path(self._dir.name) / "mosquitto.conf"
        conf.write_text(self.config())
        with open(self._log, "ab") as log:
            self._proc = subprocess.Popen(
                [self._binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not self.endpoint.reachable():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                told = self.log_text()
                self.stop()
                raise RuntimeError(f"mosquitto did not start on {self.endpoint.url}:\n{told}")
            time.sleep(0.05)
        return self.endpoint

    def reload(self) -> None:
        """What ``kill -HUP`` does in production: read the password and ACL files again."""
        if self._proc is None:
            raise RuntimeError("mosquitto is not running")
        self._proc.send_signal(signal.SIGHUP)

    def log_text(self) -> str:
        try:
            return self._log.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last wills sent on purpose, as a crash."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)
        self.stop()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._proc = None
        self._dir.cleanup()
