"""``Sandbox``: every provider emulator on one HTTP port, plus the SMTP server.

Twilio (``/2010-04-01/...``), LINE (``/v2/bot/...``), X (``/2/...``), Karaden (``/api/...``), LibreTranslate
(``/translate``, ``/languages``) and the sandbox's own
pages (``/sandbox/...``) have disjoint paths, so one port serves all of them and the hub needs
a single base URL per environment.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from sandbox.callbacks import CallbackDispatcher
from sandbox.constants import (
    SANDBOX_KARADEN_API_TOKEN,
    SANDBOX_LINE_ACCESS_TOKEN,
    SANDBOX_LINE_CHANNEL_SECRET,
    SANDBOX_TWILIO_AUTH_TOKEN,
)
from sandbox.context import SandboxContext
from sandbox.handover import hub_settings
from sandbox.inbox import Stats
from sandbox.karaden import KaradenApi
from sandbox.libretranslate import LibreTranslateApi
from sandbox.line_api import LineApi
from sandbox.pop3 import SandboxPop3
from sandbox.server import Request, Response, Router, SandboxHTTPServer, json_response
from sandbox.smtp import SandboxSMTP
from sandbox.twilio_calls import TwilioCalls
from sandbox.twilio_inbound import TwilioInbound
from sandbox.twilio_messages import TwilioMessages
from sandbox.web import SandboxWeb
from sandbox.x_api import XApi


class Sandbox:
    """All emulators plus SMTP.  ``http_port=0`` / ``smtp_port=0`` pick free ports (tests);
    ``callback_delay`` is the pause before each provider-to-hub status step; ``faults`` are
    ``(channel, kind, count)`` injected before start.  Use as a context manager or start()/stop().
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        http_port: int = 0,
        smtp_port: int = 0,
        twilio_auth_token: str = SANDBOX_TWILIO_AUTH_TOKEN,
        line_channel_secret: str = SANDBOX_LINE_CHANNEL_SECRET,
        line_webhook_url: str | None = None,
        callback_delay: float = 0.0,
        *,
        line_access_token: str = SANDBOX_LINE_ACCESS_TOKEN,
        karaden_api_token: str = SANDBOX_KARADEN_API_TOKEN,
        karaden_callback_url: str | None = None,
        sms_webhook_url: str | None = None,
        faults: Iterable[tuple[str, str, int]] = (),
        callback_workers: int = 4,
        smtp_tls_context: ssl.SSLContext | None = None,
        smtp_implicit_tls: bool = False,
        smtp_utf8: bool = True,
        pop3_port: int = 0,
        pop3_tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        # STARTTLS (or SMTPS) with this server certificate when given; SMTPUTF8 offered unless off.
        self._smtp_options: dict[str, Any] = {"tls_context": smtp_tls_context, "implicit_tls": smtp_implicit_tls,
                                              "smtputf8": smtp_utf8}
        self._http_port = http_port
        self._smtp_port = smtp_port
        self._pop3_port = pop3_port
        self._pop3_tls = pop3_tls_context  # pop3s (TLS from the first byte) with this certificate
        stats = Stats()
        self.ctx = SandboxContext(
            twilio_auth_token=twilio_auth_token,
            line_channel_secret=line_channel_secret,
            line_access_token=line_access_token,
            line_webhook_url=line_webhook_url,
            callback_delay=callback_delay,
            karaden_api_token=karaden_api_token,
            karaden_callback_url=karaden_callback_url,
            twilio_sms_url=sms_webhook_url,
            stats=stats,
            dispatcher=CallbackDispatcher(stats, workers=callback_workers),
        )
        for channel, kind, count in faults:
            self.ctx.faults.inject(channel, kind, count)
        self.messages = TwilioMessages(self.ctx)
        self.calls = TwilioCalls(self.ctx)
        self.inbound = TwilioInbound(self.ctx)
        self.line = LineApi(self.ctx)
        self.x = XApi(self.ctx)
        self.karaden = KaradenApi(self.ctx)
        self.translator = LibreTranslateApi(self.ctx)
        self.web = SandboxWeb(self.ctx, self.clear, self._info)
        self.router = Router()
        for part in (self.messages, self.calls, self.inbound, self.line, self.x, self.karaden, self.translator,
                     self.web):
            part.register(self.router)
        self._http: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._smtp: SandboxSMTP | None = None
        self._pop3: SandboxPop3 | None = None
        self._observers: list[Callable[[Request, Response], None]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Sandbox:
        self.ctx.stopping.clear()
        self._http = SandboxHTTPServer((self.host, self._http_port), self.handle, self.ctx.stopping)
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.2}, name="sandbox-http", daemon=True
        )
        self._thread.start()
        self._smtp = SandboxSMTP(self.ctx, self.host, self._smtp_port, **self._smtp_options)
        self._smtp.start()
        self._pop3 = SandboxPop3(self.ctx.bounce_mailbox, self.host, self._pop3_port, self._pop3_tls)
        self._pop3.start()
        self.ctx.jobs.start()
        return self

    def stop(self) -> None:
        self.ctx.stopping.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.close_connections()
            self._http.server_close()
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        if self._pop3 is not None:
            self._pop3.stop()
            self._pop3 = None
        self.ctx.jobs.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def http_port(self) -> int:
        if self._http is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._http.server_address[1])

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def smtp_port(self) -> int:
        if self._smtp is None:
            raise RuntimeError("the sandbox is not running")
        return self._smtp.port

    def hub_settings(self) -> dict[str, object]:
        """The hub settings pointing every channel at this running sandbox (see ``sandbox.hub_settings``)."""
        return hub_settings(self.http_url, self.smtp_port)

    def _info(self) -> dict[str, Any]:
        return {"http_url": self.http_url, "smtp_host": self.host, "smtp_port": self.smtp_port}

    # -- in-process conveniences (the same operations SandboxClient does over HTTP) ------------

    def inbox(self, channel: str | None = None, to: str | None = None) -> list[dict[str, Any]]:
        return [item.to_dict() for item in self.ctx.inbox.query(channel, to)]

    def inject_fault(
        self, channel: str, kind: str, count: int = 1, match: str | None = None, delay: float | None = None,
        probability: float | None = None,
    ) -> None:
        self.ctx.faults.inject(channel, kind, count, match, delay, probability)

    def publish_txt(self, name: str, value: str) -> None:
        """Put a TXT record in the sandbox's DNS (a DKIM key: ``{selector}._domainkey.{domain}``)."""
        self.ctx.txt_records[name.rstrip(".").lower()] = value

    def set_bounce_target(self, host: str | None, port: int = 25, mailbox: bool = False) -> None:
        """Where delivery reports for ``bounce`` faults go (the MX of the return path's domain), or
        (``mailbox``) the bounce mailbox served on ``pop3_port``."""
        self.ctx.bounce_target = (host, port) if host else None
        self.ctx.bounce_to_mailbox = mailbox

    @property
    def pop3_port(self) -> int:
        """The bounce mailbox's POP3 port (user ``SANDBOX_POP3_USER``, ``SANDBOX_POP3_PASSWORD``)."""
        assert self._pop3 is not None, "the sandbox is not running"
        return self._pop3.port

    def set_sms_url(self, url: str | None) -> None:
        """Where residents' SMS are posted: the hub's ``/callbacks/twilio/sms`` (a Twilio number's SMS URL)."""
        self.ctx.twilio_sms_url = url

    def send_sms(self, from_: str, to: str, body: str, sid: str | None = None) -> dict[str, Any]:
        """A resident at ``from_`` texts ``body`` to our number ``to``: the signed webhook is posted
        now and the TwiML reply lands in the inbox. Repeat ``sid`` to replay a webhook (a retry)."""
        return self.inbound.send(from_, to, body, sid)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every scheduled status callback has been sent (or ``timeout``)."""
        return self.ctx.jobs.wait_idle(timeout)

    def clear(self) -> None:
        """Inbox, stats, faults, LINE retry keys, provider records and pending callbacks."""
        self.ctx.jobs.clear()
        self.ctx.inbox.clear()
        self.ctx.stats.clear()
        self.ctx.faults.clear()
        self.ctx.bounce_mailbox.clear()
        for part in (self.messages, self.calls, self.line, self.x, self.karaden):
            part.clear()

    # -- HTTP entry point --------------------------------------------------------------------

    def add_observer(self, observer: Callable[[Request, Response], None]) -> None:
        """Call ``observer(request, response)`` after every HTTP answer (contract tests record them)."""
        self._observers.append(observer)

    def handle(self, request: Request) -> Response:
        handler, params, route, path_exists = self.router.resolve(request.method, request.path)
        if handler is None:
            if path_exists:
                message = f"{request.method} is not allowed on {request.path}"
                response = json_response(405, {"message": message})
            else:
                self.ctx.stats.incr("unknown_path")
                response = json_response(404, {"message": f"the sandbox does not emulate {request.path}"})
        else:
            request.params, request.route = params, route
            response = handler(request)
        for observer in self._observers:
            observer(request, response)
        return response
