"""An MQTT broker inside this process (amqtt), for the demo and tests on a machine with no
Mosquitto. It speaks MQTT 3.1.1 with QoS 1, retained messages and last wills, which is
all the contract needs; production uses Mosquitto."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import threading
from typing import Any

from toolhut.mqtt import MqttEndpoint

log = logging.getLogger(__name__)


# Below Linux's ephemeral range (32768-60999 by default): a port handed out here is not
# also taken by some client's outgoing connection before our server binds it.
_LISTEN_PORTS = range(20000, 32768)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for a server about to start."""
    for port in random.sample(_LISTEN_PORTS, 50):
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # a crowded machine: let the kernel choose
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedBroker:
    """Runs amqtt on its own event loop thread; ``start()`` returns once it listens."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.endpoint = MqttEndpoint(host, port or free_port(host))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="mqtt-broker", daemon=True
        )
        self._broker: Any = None

    def start(self, timeout: float = 10.0) -> MqttEndpoint:
        from amqtt.broker import Broker

        config = {
            "listeners": {
                "default": {"type": "tcp", "bind": f"{self.endpoint.host}:{self.endpoint.port}"}
            },
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
        # amqtt logs every connection and state change at INFO; the demo's own lines matter more.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._thread.start()

        async def _start() -> Any:
            broker = Broker(config, loop=self._loop)
            await broker.start()
            return broker

        self._broker = asyncio.run_coroutine_threadsafe(_start(), self._loop).result(timeout)
        log.info("embedded MQTT broker listening on %s", self.endpoint.url)
        return self.endpoint

    def stop(self, timeout: float = 10.0) -> None:
        if self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(timeout)
            except Exception:  # shutting down: report, but keep going
                log.exception("embedded broker did not shut down cleanly")
            self._broker = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        if not self._loop.is_running():
            self._loop.close()
