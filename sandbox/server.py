"""A small threaded HTTP/1.1 server tuned for many short keep-alive requests.

Flask or Werkzeug would cost several times more CPU per request, and the benchmark pushes
100,000 SMS through this process at thousands of requests per second on two cores.  So the
handler reads the body, routes with a short table, and writes status line + headers + body in
one ``sendall`` (two writes would meet Nagle's algorithm and delayed ACKs: 40 ms stalls).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from socketserver import StreamRequestHandler
from typing import Any, overload
from urllib.parse import parse_qs

log = logging.getLogger("sandbox")
_MAX_LINE = 65_537
_MAX_HEADERS = 100
_REASONS = {status.value: status.phrase for status in HTTPStatus}


class Headers:
    """Request headers, looked up case-insensitively (names are stored lower-cased)."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, str]) -> None:
        self._fields = fields

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        return self._fields.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields.items())


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    # The matched path template as written in the provider's spec, e.g. ".../Messages/{Sid}.json".
    route: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def form(self) -> dict[str, list[str]]:
        return parse_form(self.body)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Seconds to hold the answer back (the "timeout" fault): the work is already done by then.
    delay: float = 0.0


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, body, "application/json", headers or [])


def html_response(status: int, text: str) -> Response:
    return Response(status, text.encode("utf-8"), "text/html; charset=utf-8")


_ESCAPED_RUN = re.compile(rb"(?:%[0-9A-Fa-f]{2})+")


def _unescape_run(found: re.Match[bytes]) -> bytes:
    return bytes.fromhex(found.group().replace(b"%", b"").decode("ascii"))


def parse_form(body: bytes) -> dict[str, list[str]]:
    """``application/x-www-form-urlencoded`` like ``parse_qs``, several times faster on Japanese
    text: ``unquote`` walks every ``%XX`` in Python, here a whole escaped run decodes at once."""
    form: dict[str, list[str]] = {}
    for pair in body.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.replace(b"+", b" ").partition(b"=")
        if b"%" in name:
            name = _ESCAPED_RUN.sub(_unescape_run, name)
        if b"%" in value:
            value = _ESCAPED_RUN.sub(_unescape_run, value)
        form.setdefault(name.decode("utf-8", "replace"), []).append(value.decode("utf-8", "replace"))
    return form


Handler = Callable[[Request], Response]
_PARAM = re.compile(r"\{(\w+)\}")


class Router:
    """Paths are written as in the providers' OpenAPI specs (``/Accounts/{AccountSid}/...``)."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        pattern = "^" + _PARAM.sub(
            r"(?P<\1>[^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
        )
        self._routes.append((method.upper(), re.compile(pattern + "$"), template, handler))

    @property
    def templates(self) -> list[tuple[str, str]]:
        return [(method, template) for method, _, template, _ in self._routes]

    def resolve(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], str, bool]:
        """(handler, path params, template, path_exists) — path_exists tells 405 from 404."""
        path_exists = False
        for route_method, pattern, template, handler in self._routes:
            found = pattern.match(path)
            if found is None:
                continue
            if route_method == method:
                return handler, found.groupdict(), template, True
            path_exists = True
        return None, {}, "", path_exists


class _DateCache:
    """``Date:`` formatted once per second rather than per response."""

    def __init__(self) -> None:
        self._second = 0
        self._value = ""

    def get(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._value = formatdate(now, usegmt=True)
            self._second = now
        return self._value


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256

    def __init__(
        self, address: tuple[str, int], app: Callable[[Request], Response], stopping: threading.Event
    ):
        self.app = app
        self.stopping = stopping
        self.dates = _DateCache()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            if is_open:
                self._open.add(conn)
            else:
                self._open.discard(conn)

    def close_connections(self) -> None:
        """Hang up kept-alive clients: shutdown() alone leaves their threads serving old sockets."""
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        super().server_bind()


class _Handler(StreamRequestHandler):
    """HTTP/1.1 with keep-alive, parsed by hand: ``http.server`` parses headers with the email
    package, which alone cost more than everything the Twilio emulator does per request."""

    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        try:
            while not self.server.stopping.is_set() and self._one_request():
                pass
        except (ConnectionError, TimeoutError, OSError):
            return

    def _one_request(self) -> bool:
        line = self.rfile.readline(_MAX_LINE)
        while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between pipelined requests
            line = self.rfile.readline(_MAX_LINE)
        if not line:
            return False
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self._write(json_response(400, {"message": "bad request line"}), close=True)
            return False
        method, target, version = parts
        fields: dict[str, str] = {}
        while True:
            raw = self.rfile.readline(_MAX_LINE)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            fields[name.strip().lower()] = value.strip()
            if len(fields) > _MAX_HEADERS:
                self._write(json_response(431, {"message": "too many headers"}), close=True)
                return False
        headers = Headers(fields)
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if headers.get("transfer-encoding", "").lower() == "chunked":
            self._write(json_response(411, {"message": "Content-Length required"}), close=True)
            return False
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        length_header = headers.get("content-length", "0") or "0"
        if not length_header.isdigit():
            self._write(json_response(400, {"message": "bad Content-Length"}), close=True)
            return False
        length = int(length_header)
        body = self.rfile.read(length) if length else b""
        path, _, raw_query = target.partition("?")
        request = Request(
            method=method.upper(),
            path=path,
            query=parse_qs(raw_query, keep_blank_values=True) if raw_query else {},
            headers=headers,
            body=body,
        )
        try:
            response = self.server.app(request)
        except Exception:
            log.exception("sandbox handler failed for %s %s", method, target)
            response = json_response(500, {"message": "sandbox internal error"})
        if response.delay > 0:
            # Waiting on the stop event lets Sandbox.stop() return promptly during a long fault.
            self.server.stopping.wait(response.delay)
        return self._write(response, close=not keep_alive)

    def _write(self, response: Response, close: bool) -> bool:
        reason = _REASONS.get(response.status, "")
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Date: {self.server.dates.get()}",
            "Server: bousai-sandbox",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
        ]
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if close:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + response.body)
        except OSError:
            # The client gave up (e.g. its timeout fired during a "timeout" fault); nothing to tell.
            return False
        return not close
