"""Twilio Programmable Voice (``/2010-04-01/Accounts/{AccountSid}/Calls``).

A call "rings, is answered, speaks its ``<Say>`` text and hangs up", with status callbacks for
the events the caller asked for (only ``completed`` when none were named, as Twilio does).
Answering with ``Url`` fetches TwiML from the hub, signed, like Twilio's own request.
``POST /sandbox/voice/calls/{Sid}/digits`` plays a resident pressing keys: it posts the digits
to the ``<Gather action>`` so acknowledgement flows can be tested end to end.
"""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import urljoin
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from sandbox.callbacks import JobStep, Outgoing
from sandbox.context import SandboxContext
from sandbox.http_out import Reply
from sandbox.inbox import InboxItem
from sandbox.server import Request, Response, Router, json_response
from sandbox.twilio_common import (
    API_VERSION,
    ResourceStore,
    check_auth,
    classify_number,
    first,
    in_time_window,
    new_sid,
    rfc2822,
    signed_callback,
    time_filter,
    twilio_error,
)

BASE = "/2010-04-01/Accounts/{AccountSid}"


def parse_twiml(twiml: str) -> tuple[str, dict[str, Any]]:
    """(spoken text, details): every ``<Say>`` in document order, and the first ``<Gather>``."""
    try:
        root: Element = ElementTree.fromstring(twiml)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        return "", {"twiml_error": str(exc)}
    said = [(el.text or "").strip() for el in root.iter("Say")]
    details: dict[str, Any] = {
        "languages": sorted({el.get("language", "") for el in root.iter("Say")} - {""})
    }
    gather = next(root.iter("Gather"), None)
    if gather is not None:
        details["gather"] = {
            "action": gather.get("action"),
            "method": gather.get("method", "POST"),
            "num_digits": gather.get("numDigits"),
        }
    return "\n".join(text for text in said if text), details


class CallRecord:
    __slots__ = (
        "account_sid", "created", "duration", "end_time", "events", "from_", "gather", "method",
        "outcome", "seq", "sid", "start_time", "status", "status_callback", "status_method", "to",
        "twiml", "updated", "url",
    )  # fmt: skip

    def __init__(self, seq: int, account_sid: str, to: str, from_: str) -> None:
        self.seq = seq
        self.sid = new_sid("CA")
        self.account_sid = account_sid
        self.to = to
        self.from_ = from_
        self.status = "queued"
        self.outcome = "completed"
        self.created = self.updated = time.time()
        self.start_time: float | None = None
        self.end_time: float | None = None
        self.duration: int | None = None
        self.twiml: str | None = None
        self.url: str | None = None
        self.method = "POST"
        self.gather: dict[str, Any] | None = None
        self.status_callback: str | None = None
        self.status_method = "POST"
        self.events: list[str] = []

    @property
    def uri(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Calls/{self.sid}.json"

    def resource(self) -> dict[str, Any]:
        sub = self.uri[: -len(".json")]
        return {
            "account_sid": self.account_sid,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": rfc2822(self.created),
            "date_updated": rfc2822(self.updated),
            "direction": "outbound-api",
            "duration": None if self.duration is None else str(self.duration),
            "end_time": rfc2822(self.end_time),
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": self.sid,
            "start_time": rfc2822(self.start_time),
            "status": self.status,
            "subresource_uris": {
                "notifications": f"{sub}/Notifications.json",
                "recordings": f"{sub}/Recordings.json",
                "events": f"{sub}/Events.json",
            },
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": self.uri,
        }

    def call_params(self, status: str) -> list[tuple[str, str]]:
        return [
            ("AccountSid", self.account_sid),
            ("ApiVersion", API_VERSION),
            ("CallSid", self.sid),
            ("CallStatus", status),
            ("Direction", "outbound-api"),
            ("From", self.from_),
            ("To", self.to),
        ]


class TwilioCalls:
    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.store: ResourceStore[CallRecord] = ResourceStore()

    def register(self, router: Router) -> None:
        router.add("POST", f"{BASE}/Calls.json", self.create)
        router.add("GET", f"{BASE}/Calls.json", self.list)
        router.add("GET", f"{BASE}/Calls/{{Sid}}.json", self.fetch)
        router.add("POST", "/sandbox/voice/calls/{Sid}/digits", self.press_digits)

    def clear(self) -> None:
        self.store.clear()

    def create(self, request: Request) -> Response:
        self.ctx.stats.incr("twilio.calls.create")
        denied = check_auth(request, self.ctx.twilio_auth_token)
        if denied is not None:
            return denied
        form = request.form()
        to, sender = first(form, "To"), first(form, "From")
        twiml, url = first(form, "Twiml"), first(form, "Url")
        if not to:
            return twilio_error(400, 21201, "No 'To' number is specified")
        if not sender:
            return twilio_error(400, 21213, "No 'From' number is specified")
        if not twiml and not url:
            return twilio_error(400, 21205, "Url parameter is required.")
        fault = self.ctx.faults.take("voice", (to,))
        if fault is not None and fault.kind in ("429", "500", "invalid_number"):
            if fault.kind == "429":
                return twilio_error(429, 20429, "Too Many Requests")
            if fault.kind == "500":
                return twilio_error(500, 20500, "Internal Server Error")
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if classify_number(to) == "invalid":
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")

        record = CallRecord(0, request.params["AccountSid"], to, sender)
        record.twiml, record.url = twiml, url
        record.method = (first(form, "Method") or "POST").upper()
        record.status_callback = first(form, "StatusCallback")
        record.status_method = (first(form, "StatusCallbackMethod") or "POST").upper()
        record.events = [e for e in form.get("StatusCallbackEvent", []) if e] or ["completed"]
        if fault is not None and fault.kind in ("no_answer", "busy"):
            record.outcome = fault.kind.replace("_", "-")
        self.store.add(record)
        if twiml and record.outcome == "completed":
            self._deliver(record, twiml)
        # The answer first, as Twilio's is: "queued". With no delay the progress job could otherwise
        # move the record to "ringing" before it was written (a loaded machine saw this).
        response = json_response(201, record.resource())
        self._schedule_progress(record)
        if fault is not None and fault.kind == "timeout":
            response.delay = fault.timeout_delay
        return response

    def _deliver(self, record: CallRecord, twiml: str) -> None:
        text, details = parse_twiml(twiml)
        record.gather = details.get("gather")
        meta = {
            "sid": record.sid,
            "account_sid": record.account_sid,
            "twiml": twiml,
            "url": record.url,
            **details,
        }
        self.ctx.inbox.add(InboxItem("voice", record.to, record.from_, text, record.sid, meta=meta))
        record.duration = max(1, math.ceil(len(text) / 7))  # roughly the pace of Japanese TTS

    def _callback(self, record: CallRecord, event: str, status: str) -> Outgoing | None:
        record.status = status if status != "initiated" else record.status
        record.updated = time.time()
        if not record.status_callback or event not in record.events:
            return None
        params = record.call_params(status)
        params += [("CallbackSource", "call-progress-events"), ("Timestamp", rfc2822(record.updated) or "")]
        if status == "completed":
            params.append(("CallDuration", str(record.duration or 0)))
        token = self.ctx.twilio_auth_token
        return signed_callback(
            record.status_callback, params, token, "twilio.callbacks", record.status_method
        )

    def _schedule_progress(self, record: CallRecord) -> None:
        gap = self.ctx.callback_delay

        def answer() -> Outgoing | None:
            if record.outcome != "completed":
                record.end_time = time.time()
                return self._callback(record, "completed", record.outcome)
            record.start_time = time.time()
            record.status = "in-progress"
            if record.twiml is None and record.url:
                return self._twiml_fetch(record)
            return None

        def answered() -> Outgoing | None:
            if record.outcome != "completed":
                return None
            return self._callback(record, "answered", "in-progress")

        def fetched(reply: Reply | None) -> None:
            if record.twiml is None and record.url:
                record.twiml = reply.body.decode("utf-8", "replace") if reply and reply.status < 400 else ""
                self._deliver(record, record.twiml)

        def hang_up() -> Outgoing | None:
            if record.outcome != "completed":
                return None
            record.end_time = time.time()
            return self._callback(record, "completed", "completed")

        self.ctx.jobs.schedule(
            [
                JobStep(lambda: self._callback(record, "initiated", "initiated"), gap=gap),
                JobStep(lambda: self._callback(record, "ringing", "ringing"), gap=gap),
                JobStep(answer, gap=gap, after=fetched),
                JobStep(answered, gap=0.0),
                JobStep(hang_up, gap=gap),
            ]
        )

    def _twiml_fetch(self, record: CallRecord) -> Outgoing:
        assert record.url is not None
        params = record.call_params("in-progress")
        return signed_callback(
            record.url, params, self.ctx.twilio_auth_token, "twilio.twiml_fetch", record.method
        )

    def list(self, request: Request) -> Response:
        self.ctx.stats.incr("twilio.calls.list")
        denied = check_auth(request, self.ctx.twilio_auth_token)
        if denied is not None:
            return denied
        sender, status = request.arg("From"), request.arg("Status")
        window = time_filter(request.query, "StartTime")

        def keep(record: CallRecord) -> bool:
            if (sender and record.from_ != sender) or (status and record.status != status):
                return False
            return in_time_window(record.start_time or record.created, window)

        path = f"/2010-04-01/Accounts/{request.params['AccountSid']}/Calls.json"
        page = self.store.page(request.query, path, "calls", keep)
        return page if isinstance(page, Response) else json_response(200, page)

    def fetch(self, request: Request) -> Response:
        self.ctx.stats.incr("twilio.calls.fetch")
        denied = check_auth(request, self.ctx.twilio_auth_token)
        return denied if denied is not None else self.store.fetch_response(request)

    def press_digits(self, request: Request) -> Response:
        record = self.store.get(request.params["Sid"])
        if record is None:
            return json_response(404, {"message": "no such call"})
        payload = request.json() or {}
        digits = str(payload.get("digits", ""))
        gather = record.gather or {}
        action = gather.get("action") or record.url
        if not digits or not action:
            return json_response(
                400, {"message": "the call has no <Gather> to answer, or no digits were given"}
            )
        target = urljoin(record.url or "", action)
        params = [*record.call_params("in-progress"), ("Digits", digits), ("FinishedOnKey", "")]
        out = signed_callback(
            target, params, self.ctx.twilio_auth_token, "twilio.gather", gather.get("method", "POST")
        )
        self.ctx.stats.incr("twilio.gather")
        try:
            reply = self.ctx.jobs.sender.send(out)
        except OSError as exc:
            return json_response(502, {"message": f"could not reach {target}: {exc}"})
        return json_response(200, {"status": reply.status, "body": reply.body.decode("utf-8", "replace")})
