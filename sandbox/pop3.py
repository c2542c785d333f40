"""A POP3 mailbox (RFC 1939): the city's bounce mailbox, for hubs that fetch their bounce reports.

Where the bounce domain's MX is the city's own mail server rather than ``hub bounces serve``, the
reports land in one mailbox and the hub fetches them (``hub bounces fetch``, hub/bounces/mailbox.py).
The sandbox files each report there as a mail server would, with the ``Delivered-To`` header of the
address it was delivered to, and serves the mailbox to Python's own POP3 client (poplib). As in the
RFC, messages marked deleted go only when the session ends with QUIT: a dropped connection keeps them.
"""

from __future__ import annotations

import itertools
import socketserver
import ssl
import threading
from dataclasses import dataclass, field

from sandbox.constants import SANDBOX_POP3_PASSWORD, SANDBOX_POP3_USER


@dataclass
class Pop3Mailbox:
    user: str = SANDBOX_POP3_USER
    password: str = SANDBOX_POP3_PASSWORD
    _messages: dict[int, bytes] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def file(self, raw: bytes, delivered_to: str) -> None:
        """Deliver ``raw`` as the mailbox's server would: with the address it was delivered to."""
        with self._lock:
            self._messages[next(self._ids)] = f"Delivered-To: {delivered_to}\r\n".encode() + raw

    def snapshot(self) -> list[tuple[int, bytes]]:
        with self._lock:
            return sorted(self._messages.items())

    def remove(self, uids: set[int]) -> None:
        with self._lock:
            for uid in uids:
                self._messages.pop(uid, None)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)


class _Session(socketserver.StreamRequestHandler):
    server: _Pop3Server

    def setup(self) -> None:
        if self.server.tls is not None:  # pop3s: TLS from the first byte, in this session's thread
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def handle(self) -> None:
        box = self.server.mailbox
        self._say("+OK sandbox POP3 ready")
        user: str | None = None
        drop: list[tuple[int, bytes]] | None = None  # the maildrop, once authorised
        deleted: set[int] = set()
        while line := self.rfile.readline(1024):
            verb, _, arg = line.decode("utf-8", "replace").strip().partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                if drop is not None:
                    box.remove({drop[n][0] for n in deleted})
                self._say("+OK bye")
                return
            if verb == "CAPA":
                self._say("+OK capabilities follow")
                self._lines([b"USER", b"UIDL"])
            elif drop is None:
                if verb == "USER":
                    user = arg
                    self._say("+OK")
                elif verb == "PASS" and user == box.user and arg == box.password:
                    drop = box.snapshot()
                    self._say(f"+OK {len(drop)} messages")
                elif verb == "PASS":
                    user = None
                    self._say("-ERR [AUTH] invalid user name or password")
                else:
                    self._say("-ERR authenticate first")
            else:
                self._transaction(verb, arg, drop, deleted)

    def _transaction(self, verb: str, arg: str, drop: list[tuple[int, bytes]], deleted: set[int]) -> None:
        live = [n for n in range(len(drop)) if n not in deleted]
        number = int(arg) - 1 if arg.isdigit() else -1
        if verb == "STAT":
            self._say(f"+OK {len(live)} {sum(len(drop[n][1]) for n in live)}")
        elif verb in ("LIST", "UIDL") and not arg:
            self._say("+OK")
            self._lines([f"{n + 1} {len(drop[n][1]) if verb == 'LIST' else drop[n][0]}".encode() for n in live])
        elif verb in ("LIST", "UIDL", "RETR", "DELE") and number not in live:
            self._say("-ERR no such message")
        elif verb == "LIST":
            self._say(f"+OK {number + 1} {len(drop[number][1])}")
        elif verb == "UIDL":
            self._say(f"+OK {number + 1} {drop[number][0]}")
        elif verb == "RETR":
            self._say(f"+OK {len(drop[number][1])} octets")
            self._lines(drop[number][1].splitlines())
        elif verb == "DELE":
            deleted.add(number)
            self._say(f"+OK message {number + 1} deleted")
        elif verb == "RSET":
            deleted.clear()
            self._say("+OK")
        elif verb == "NOOP":
            self._say("+OK")
        else:
            self._say("-ERR unknown command")

    def _say(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def _lines(self, lines: list[bytes]) -> None:
        # Byte-stuffing: a line starting with "." gets another, so only ".\r\n" ends the answer.
        body = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)
        self.wfile.write(body + b".\r\n")


class _Pop3Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], mailbox: Pop3Mailbox, tls: ssl.SSLContext | None) -> None:
        self.mailbox = mailbox
        self.tls = tls
        super().__init__(address, _Session)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that refused our certificate, or went away: its session simply ends


class SandboxPop3:
    def __init__(self, mailbox: Pop3Mailbox, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self._server = _Pop3Server((host, port), mailbox, tls)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="sandbox-pop3", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
