"""State shared by the provider emulators of one sandbox."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sandbox.callbacks import CallbackDispatcher
from sandbox.faults import FaultBook
from sandbox.inbox import Inbox, Stats
from sandbox.pop3 import Pop3Mailbox


@dataclass
class SandboxContext:
    twilio_auth_token: str
    line_channel_secret: str
    line_access_token: str
    line_webhook_url: str | None
    callback_delay: float
    karaden_api_token: str = ""
    karaden_callback_url: str | None = None
    # Where a resident's SMS to one of our numbers is posted (a number's SMS URL in the Twilio console).
    twilio_sms_url: str | None = None
    inbox: Inbox = field(default_factory=Inbox)
    stats: Stats = field(default_factory=Stats)
    faults: FaultBook = field(default_factory=FaultBook)
    dispatcher: CallbackDispatcher | None = None
    # The sandbox's "DNS": TXT records by lower-case name (DKIM public keys, published by whoever
    # runs the sandbox), so the inbox can say what a receiving server would of each signature.
    txt_records: dict[str, str] = field(default_factory=dict)
    # Where delivery reports (bounces) go: the return path domain's MX, i.e. the hub's receiver;
    # or, with bounce_to_mailbox, the city's bounce mailbox that the hub fetches over POP3.
    bounce_target: tuple[str, int] | None = None
    bounce_to_mailbox: bool = False
    bounce_mailbox: Pop3Mailbox = field(default_factory=Pop3Mailbox)
    # Set by Sandbox.stop(); long "timeout" faults wait on it so shutdown is not held up.
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.dispatcher is None:
            self.dispatcher = CallbackDispatcher(self.stats)

    @property
    def jobs(self) -> CallbackDispatcher:
        assert self.dispatcher is not None
        return self.dispatcher
