"""A private Mosquitto process, configured as production should be (TCP_NODELAY on), for
tests and benchmarks on a machine that has the binary but no suitable broker running."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from toolhut.embedded_broker import free_port
from toolhut.mqtt import MqttEndpoint


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    sbin = Path("/usr/sbin/mosquitto")
    return str(sbin) if sbin.exists() else None


class MosquittoProcess:
    def __init__(self, binary: str, *, port: int | None = None) -> None:
        self.endpoint = MqttEndpoint("127.0.0.1", port or free_port())
        self._binary = binary
        self._dir = tempfile.TemporaryDirectory(prefix="toolhut-mosquitto-")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> MqttEndpoint:
        conf = Path(self._dir.name) / "mosquitto.conf"
        conf.write_text(
            f"listener {self.endpoint.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # Without it Nagle's algorithm meets delayed acks: about 40 ms per hop.
            "set_tcp_nodelay true\n"
            "persistence false\n"
            "max_queued_messages 100000\n"
        )
        self._proc = subprocess.Popen(
            [self._binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while not self.endpoint.reachable():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start on {self.endpoint.url}")
            time.sleep(0.05)
        return self.endpoint

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
