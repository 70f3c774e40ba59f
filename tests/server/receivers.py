"""Real endpoints for the notifier tests: an HTTP server that records what Apprise posts,
and an SMTP server (aiosmtpd) that records the mail it is handed."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class WebhookReceiver:
    url: str  # http://127.0.0.1:PORT
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_next: int = 0  # answer this many requests with 500 first
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def apprise_base(self) -> str:
        return self.url.replace("http://", "json://")


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    code = 500
                else:
                    receiver.posts.append((self.path, json.loads(body)))
                    code = 200
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class SmtpReceiver:
    port: int
    mails: list[EmailMessage] = field(default_factory=list)


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # aiosmtpd checks its own port after start: not 0
        probe.bind(("127.0.0.1", 0))
        receiver = SmtpReceiver(port=probe.getsockname()[1])

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            mail = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(mail, EmailMessage)
            receiver.mails.append(mail)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
