"""paho-mqtt clients set up the same way on both ends of the wire."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


class MqttUrlError(ValueError):
    """An MQTT URL this project cannot use."""


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> MqttEndpoint:
        """``mqtt://[user[:password]@]host[:port]``; the port defaults to 1883."""
        parts = urlsplit(url)
        if parts.scheme != "mqtt":
            raise MqttUrlError(f"MQTT URL must start with mqtt:// (got {url!r})")
        if not parts.hostname:
            raise MqttUrlError(f"MQTT URL has no host: {url!r}")
        try:
            port = parts.port or 1883
        except ValueError as exc:
            raise MqttUrlError(f"MQTT URL has a bad port: {url!r}") from exc
        return cls(parts.hostname, port, parts.username, parts.password)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def reachable(self, timeout: float = 0.5) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout):
                return True
        except OSError:
            return False


def _nodelay(client: Any, userdata: Any, sock: Any) -> None:
    # Without it Nagle's algorithm meets delayed acks and every hop costs about 40 ms.
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # websockets or a socket without TCP
        pass


def gateway_client_id(*, prefix: str, hut: str, install: str) -> str:
    """The same for one installation (``install``: a random id kept in the gateway's data
    folder) of one hut under one prefix, so a restarted gateway takes its own place; no
    stranger can guess it to knock the gateway off (a broker drops the older of two clients
    with one id), and a demo and a test run sharing a broker never collide. Neither a
    prefix nor a hut id holds a '.', so each id belongs to one (prefix, hut, install)."""
    return f"toolhut-gateway.{prefix.replace('/', '.')}.{hut}.{install}"


def make_client(endpoint: MqttEndpoint, *, client_id: str, clean: bool = True) -> Any:
    """A paho client with the v2 callbacks, TCP_NODELAY and the endpoint's credentials.

    MQTT 3.1.1 so the same client works with Mosquitto and the embedded amqtt broker.
    """
    import paho.mqtt.client as paho

    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
        protocol=paho.MQTTv311,
        reconnect_on_failure=True,
    )
    client.on_socket_open = _nodelay
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    return client


def connack_ok(reason_code: Any) -> bool:
    """``on_connect`` fires for refused connections too: only a success counts."""
    return not getattr(reason_code, "is_failure", True)
