"""paho-mqtt clients set up the same way on both ends of the wire."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)


class MqttUrlError(ValueError):
    """An MQTT URL (or its TLS files) this project cannot use."""


_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


def mask_url(url: str) -> str:
    """``url`` with the password, if any, replaced by ``***``: for messages and logs."""
    parts = urlsplit(url)
    try:
        password = parts.password
    except ValueError:
        password = None
    if not password:
        return url
    head, at, tail = parts.netloc.rpartition("@")
    user = head.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***{at}{tail}").geturl()


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """What a client needs for ``mqtts://``: the CA that signed the broker's certificate
    (None: the system's CAs) and, for a broker that asks for one, a client certificate
    with its key."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def check(self) -> TlsFiles:
        """The same files, or MqttUrlError naming the one that is missing or unpaired."""
        if (self.cert_file is None) != (self.key_file is None):
            raise MqttUrlError("a client certificate and its key go together: set both or neither")
        for what, path in (
            ("CA", self.ca_file),
            ("certificate", self.cert_file),
            ("key", self.key_file),
        ):
            if path is not None and not path.is_file():
                raise MqttUrlError(f"MQTT TLS {what} file {path} does not exist")
        return self


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    host: str
    port: int
    username: str | None = None
    # Never in a repr, so an endpoint in a log line or a traceback shows no password.
    password: str | None = field(default=None, repr=False)
    tls: TlsFiles | None = None  # set for mqtts://

    @classmethod
    def parse(cls, url: str) -> MqttEndpoint:
        """``mqtt[s]://[user[:password]@]host[:port]``, user and password percent-encoded;
        the port defaults to 1883, or 8883 for ``mqtts://`` (TLS, checked against the
        system's CAs unless given others)."""
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS:
            raise MqttUrlError(
                f"MQTT URL must start with mqtt:// or mqtts:// (got {mask_url(url)!r})"
            )
        if not parts.hostname:
            raise MqttUrlError(f"MQTT URL has no host: {mask_url(url)!r}")
        try:
            port = parts.port or _DEFAULT_PORTS[parts.scheme]
        except ValueError as exc:
            raise MqttUrlError(f"MQTT URL has a bad port: {mask_url(url)!r}") from exc
        tls = TlsFiles() if parts.scheme == "mqtts" else None
        # Percent-encoded, as in any URL, so a password may hold '@', ':' or '/'.
        username = None if parts.username is None else unquote(parts.username)
        password = None if parts.password is None else unquote(parts.password)
        return cls(parts.hostname, port, username, password, tls)

    def with_tls_files(self, files: TlsFiles) -> MqttEndpoint:
        """This endpoint with the given TLS files; MqttUrlError if it is not ``mqtts://``
        (files given for a plain connection are a mistake, not something to ignore)."""
        if files == TlsFiles():
            return self
        if self.tls is None:
            raise MqttUrlError(f"MQTT TLS files are set but the URL {self.url} is not mqtts://")
        return replace(self, tls=files.check())

    def with_password(self, password: str, *, default_username: str) -> MqttEndpoint:
        """This endpoint with a password read from elsewhere (a file); the URL's user name,
        or ``default_username`` if it has none. MqttUrlError if the URL has a password too."""
        if self.password is not None:
            raise MqttUrlError("the MQTT URL carries a password and a password file is set too")
        return replace(self, username=self.username or default_username, password=password)

    @property
    def url(self) -> str:
        """For people and logs: scheme, host and port, never the user or password."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

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
    """A paho client with the v2 callbacks, TCP_NODELAY, the endpoint's credentials and,
    for ``mqtts://``, TLS with the endpoint's CA and client certificate (the broker's
    host name is checked against its certificate).

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
    if endpoint.tls is not None:
        files = endpoint.tls
        client.tls_set(
            ca_certs=_str(files.ca_file),
            certfile=_str(files.cert_file),
            keyfile=_str(files.key_file),
        )
    return client


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def connack_ok(reason_code: Any) -> bool:
    """``on_connect`` fires for refused connections too: only a success counts."""
    return not getattr(reason_code, "is_failure", True)
