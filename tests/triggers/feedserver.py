"""A local stand-in for www.data.jma.go.jp: Atom feeds and telegram URLs on 127.0.0.1.

It answers conditional GETs with 304 like JMA's server, counts every request per path (so tests
can prove a telegram was downloaded once), and can be told to fail or to stall.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FEED_PATH = "/developer/xml/feed/"
DATA_PATH = "/developer/xml/data/"


class FeedServer:
    def __init__(self) -> None:
        self.telegrams: dict[str, bytes] = {}
        self.entries: dict[str, list[tuple[str, str, datetime]]] = {}  # feed name → (file, title, updated)
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.status: dict[str, int] = {}  # path → forced HTTP status
        self.stall: dict[str, float] = {}  # path → seconds to wait before answering
        self.published_at: dict[str, float] = {}  # telegram file → time.perf_counter() when it appeared
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def feed_url(self, name: str = "eqvol") -> str:
        return f"{self.base}{FEED_PATH}{name}.xml"

    def data_url(self, file: str) -> str:
        return f"{self.base}{DATA_PATH}{file}"

    def link(self, file: str) -> str:
        """Where the feed says a telegram is: here, or the full URL it was listed with (another host)."""
        return file if file.startswith(("http://", "https://")) else self.data_url(file)

    def list_foreign(self, url: str, feed: str = "eqvol", title: str = "震源・震度に関する情報") -> None:
        """List an entry whose link points at ``url`` (another host), as a tampered feed would."""
        with self._lock:
            self.entries.setdefault(feed, []).append((url, title, datetime.now(UTC)))

    def publish(self, file: str, raw: bytes, feed: str = "eqvol", title: str = "震源・震度に関する情報",
                long_only: bool = False) -> str:
        """Make a telegram visible: in the short feed and its ``_l`` twin (or only the latter)."""
        with self._lock:
            self.telegrams[file] = raw
            now = datetime.now(UTC)
            for name in ([f"{feed}_l"] if long_only else [feed, f"{feed}_l"]):
                self.entries.setdefault(name, []).append((file, title, now))
            self.published_at[file] = time.perf_counter()
        return self.data_url(file)

    def feed_document(self, name: str) -> tuple[bytes, datetime | None]:
        with self._lock:
            items = list(self.entries.get(name, []))
        updated = max((item[2] for item in items), default=None)
        entries = "".join(
            f"<entry><title>{title}</title><id>{self.link(file)}</id>"
            f"<updated>{stamp.isoformat(timespec='seconds')}</updated><author><name>気象庁</name></author>"
            f'<link type="application/xml" href="{self.link(file)}"/>'
            f'<content type="text">{title}</content></entry>'
            for file, title, stamp in reversed(items)
        )
        stamp = (updated or datetime(2020, 1, 1, tzinfo=UTC)).isoformat(timespec="seconds")
        document = (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" lang="ja">'
            f"<title>高頻度フィード</title><subtitle>JMAXML publishing feed</subtitle>"
            f"<updated>{stamp}</updated><id>{self.feed_url(name)}</id>"
            f'<link href="{self.feed_url(name)}" rel="self"/>{entries}</feed>'
        )
        return document.encode(), updated

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.hits[path] += 1
                if path in server.stall:
                    time.sleep(server.stall[path])
                if path in server.status:
                    self._send(server.status[path], b"error")
                elif path.startswith(FEED_PATH) and path.endswith(".xml"):
                    self._feed(path[len(FEED_PATH):-len(".xml")])
                elif path.startswith(DATA_PATH) and path[len(DATA_PATH):] in server.telegrams:
                    self._send(200, server.telegrams[path[len(DATA_PATH):]], "application/xml")
                else:
                    self._send(404, b"not found")

            def _feed(self, name: str) -> None:
                body, updated = server.feed_document(name)
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                modified = format_datetime(updated or datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)
                if self.headers.get("If-None-Match") == etag or (
                    self.headers.get("If-Modified-Since") == modified and "If-None-Match" not in self.headers
                ):
                    server.not_modified[name] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self._send(200, body, "application/atom+xml", {"ETag": etag, "Last-Modified": modified})

            def _send(self, status: int, body: bytes, kind: str = "text/plain",
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def downloads(self, file: str) -> int:
        return self.hits[f"{DATA_PATH}{file}"]
