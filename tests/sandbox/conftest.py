"""Fixtures for the sandbox tests: one running sandbox per session, emptied before each test,
the official SDK clients pointed at it, and a small HTTP receiver standing in for the hub."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import tweepy
from linebot.v3.messaging import MessagingApi
from twilio.rest import Client as TwilioClient

from channels.clients import make_line_api, make_tweepy_client, make_twilio_client
from sandbox import (
    SANDBOX_LINE_ACCESS_TOKEN,
    SANDBOX_TWILIO_ACCOUNT_SID,
    SANDBOX_TWILIO_AUTH_TOKEN,
    SANDBOX_X_ACCESS_TOKEN,
    SANDBOX_X_ACCESS_TOKEN_SECRET,
    SANDBOX_X_CONSUMER_KEY,
    SANDBOX_X_CONSUMER_SECRET,
    Sandbox,
    SandboxClient,
)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def sb(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.clear()
    sandbox_server.ctx.callback_delay = 0.0
    sandbox_server.ctx.line_webhook_url = None
    sandbox_server.ctx.twilio_sms_url = None
    return sandbox_server


@pytest.fixture
def client(sb: Sandbox) -> Iterator[SandboxClient]:
    sandbox_client = SandboxClient(sb.http_url)
    yield sandbox_client
    sandbox_client.close()


@pytest.fixture
def twilio(sb: Sandbox) -> TwilioClient:
    return make_twilio_client(SANDBOX_TWILIO_ACCOUNT_SID, SANDBOX_TWILIO_AUTH_TOKEN, sb.http_url, timeout=5.0)


@pytest.fixture
def line(sb: Sandbox) -> MessagingApi:
    return make_line_api(SANDBOX_LINE_ACCESS_TOKEN, sb.http_url, timeout=5.0)


@pytest.fixture
def x(sb: Sandbox) -> tweepy.Client:
    return make_tweepy_client(
        SANDBOX_X_CONSUMER_KEY,
        SANDBOX_X_CONSUMER_SECRET,
        SANDBOX_X_ACCESS_TOKEN,
        SANDBOX_X_ACCESS_TOKEN_SECRET,
        sb.http_url,
        timeout=5.0,
    )


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every request; answers 200 with ``reply`` (TwiML, for instance)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    reply: bytes = b"<Response/>"
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _record(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.arrived:
                state.requests.append(Received(self.command, self.path, dict(self.headers.items()), body))
                state.arrived.notify_all()
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(state.reply)))
            self.end_headers()
            self.wfile.write(state.reply)

        do_POST = do_GET = _record

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
