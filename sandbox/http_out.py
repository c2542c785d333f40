"""A minimal keep-alive HTTP/1.1 client for the sandbox's own outgoing calls.

A 100,000-SMS run makes 200,000 status callbacks.  ``http.client`` writes headers and body in
two sends and parses response headers with the email package; this client writes one buffer
and reads only what it needs (status, length, chunking, connection), at about half the CPU.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

_MAX_LINE = 65_537
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes


class _StaleConnection(Exception):
    """The server closed a kept-alive connection before answering: safe to resend once."""


class _Connection:
    def __init__(self, scheme: str, host: str, port: int, timeout: float) -> None:
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            raw = ssl.create_default_context().wrap_socket(raw, server_hostname=host)
        self.sock = raw
        self.reader = raw.makefile("rb")
        self.used = False

    def close(self) -> None:
        for closer in (self.reader.close, self.sock.close):
            with contextlib.suppress(OSError):
                closer()

    def exchange(self, request: bytes, head_only: bool) -> tuple[Reply, bool]:
        """(reply, keep_alive)"""
        self.sock.sendall(request)
        if _QUICKACK is not None:
            # Servers that write headers and body separately (http.server, Werkzeug) would
            # otherwise meet our delayed ACK under Nagle: a 40 ms stall per callback.
            self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        while True:
            line = self.reader.readline(_MAX_LINE)
            if not line:
                raise _StaleConnection
            version, _, rest = line.decode("latin-1").partition(" ")
            if not rest[:3].isdigit():
                raise ConnectionError(f"malformed HTTP status line: {line[:80]!r}")
            status = int(rest[:3])
            length: int | None = None
            chunked = False
            keep_alive = version == "HTTP/1.1"
            while True:
                header = self.reader.readline(_MAX_LINE)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding":
                    chunked = "chunked" in value
                elif name == "connection":
                    keep_alive = value == "keep-alive" or (keep_alive and value != "close")
            if 100 <= status < 200:
                continue  # interim answer (100 Continue); the real one follows
            break
        if head_only or status in (204, 304):
            return Reply(status, b""), keep_alive
        if chunked:
            return Reply(status, self._read_chunked()), keep_alive
        if length is not None:
            return Reply(status, self.reader.read(length)), keep_alive
        return Reply(status, self.reader.read()), False

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.reader.readline(_MAX_LINE).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.reader.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.reader.read(size))
            self.reader.readline(_MAX_LINE)


class HttpClient:
    """One kept-alive connection per (thread, scheme, host, port); safe to share across threads."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._local = threading.local()

    def _pool(self) -> dict[tuple[str, str, int], _Connection]:
        pool: dict[tuple[str, str, int], _Connection] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool

    def request(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        scheme = parts.scheme or "http"
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"{method.upper()} {target} HTTP/1.1", f"Host: {parts.netloc}", "User-Agent: bousai-sandbox"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        key = (scheme, host, port)
        pool = self._pool()
        for attempt in range(2):
            conn = pool.pop(key, None)
            if conn is None or attempt:
                if conn is not None:
                    conn.close()
                conn = _Connection(scheme, host, port, self.timeout)
            reused, conn.used = conn.used, True
            try:
                reply, keep_alive = conn.exchange(request, method.upper() == "HEAD")
            except (_StaleConnection, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                if reused and attempt == 0:
                    continue
                raise ConnectionError(f"{url}: connection closed without an answer") from exc
            except BaseException:
                conn.close()
                raise
            if keep_alive:
                pool[key] = conn
            else:
                conn.close()
            return reply
        raise AssertionError("unreachable")
