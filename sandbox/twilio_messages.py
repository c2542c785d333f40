"""Twilio Programmable Messaging (``/2010-04-01/Accounts/{AccountSid}/Messages``)."""

from __future__ import annotations

import time
from typing import Any

from sandbox.callbacks import JobStep, Outgoing
from sandbox.context import SandboxContext
from sandbox.faults import Fault
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
    sms_segments,
    time_filter,
    twilio_error,
)

MAX_BODY = 1600
BASE = "/2010-04-01/Accounts/{AccountSid}"


class MessageRecord:
    __slots__ = (
        "account_sid", "body", "created", "error_code", "error_message", "from_", "messaging_service_sid",
        "num_segments", "sent", "seq", "sid", "status", "status_callback", "to", "updated",
    )  # fmt: skip

    def __init__(
        self, seq: int, account_sid: str, to: str, from_: str | None, service: str | None, body: str
    ) -> None:
        self.seq = seq
        self.sid = new_sid("SM")
        self.account_sid = account_sid
        self.to = to
        self.from_ = from_
        self.messaging_service_sid = service
        self.body = body
        self.num_segments = str(sms_segments(body)[1])
        self.status = "queued"
        self.created = self.updated = time.time()
        self.sent: float | None = None
        self.error_code: int | None = None
        self.error_message: str | None = None
        self.status_callback: str | None = None

    @property
    def uri(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def resource(self) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.created),
            "date_sent": rfc2822(self.sent),
            "date_updated": rfc2822(self.updated),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": self.num_segments,
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": self.uri.replace(".json", "/Media.json")},
            "to": self.to,
            "uri": self.uri,
        }


class TwilioMessages:
    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.store: ResourceStore[MessageRecord] = ResourceStore()

    def register(self, router: Router) -> None:
        router.add("POST", f"{BASE}/Messages.json", self.create)
        router.add("GET", f"{BASE}/Messages.json", self.list)
        router.add("GET", f"{BASE}/Messages/{{Sid}}.json", self.fetch)

    def clear(self) -> None:
        self.store.clear()

    def create(self, request: Request) -> Response:
        self.ctx.stats.incr("twilio.messages.create")
        denied = check_auth(request, self.ctx.twilio_auth_token)
        if denied is not None:
            return denied
        form = request.form()
        to = first(form, "To")
        sender = first(form, "From")
        service = first(form, "MessagingServiceSid")
        body = first(form, "Body")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body and not form.get("MediaUrl"):
            return twilio_error(400, 21602, "Message body is required.")
        body = body or ""
        if len(body) > MAX_BODY:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        fault = self.ctx.faults.take("sms", (to,))
        if fault is not None and fault.kind != "timeout" and fault.kind != "undelivered":
            refused = self._fault_response(fault, to)
            # An error fault with a delay answers late, as a provider under load does.
            refused.delay = fault.delay or 0.0
            return refused
        kind = classify_number(to)
        if kind == "invalid":
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if kind != "mobile":
            return twilio_error(400, 21614, "'To' number is not a valid mobile number")

        record = MessageRecord(0, request.params["AccountSid"], to, sender, service, body)
        record.status_callback = first(form, "StatusCallback")
        self.store.add(record)
        undelivered = fault is not None and fault.kind == "undelivered"
        if not undelivered:
            encoding = sms_segments(body)[0]
            meta = {
                "gateway": "twilio",
                "sid": record.sid,
                "account_sid": record.account_sid,
                "num_segments": int(record.num_segments),
                "encoding": encoding,
                "messaging_service_sid": service,
                "status_callback": record.status_callback,
            }
            self.ctx.inbox.add(InboxItem("sms", to, sender or service or "", body, record.sid, meta=meta))
        response = json_response(201, record.resource())
        if record.status_callback or self.ctx.callback_delay > 0 or undelivered:
            self._schedule_progress(record, undelivered)
        else:
            # Nobody listens and nothing waits: settle now instead of waking a worker twice.
            record.status, record.sent = "delivered", record.created
        if fault is not None and fault.kind == "timeout":
            response.delay = fault.timeout_delay
        return response

    def _fault_response(self, fault: Fault, to: str) -> Response:
        if fault.kind == "429":
            return twilio_error(429, 20429, "Too Many Requests")
        if fault.kind == "500":
            return twilio_error(500, 20500, "Internal Server Error")
        if fault.kind == "queue_full":
            return twilio_error(
                400, 21611, "This 'From' number has exceeded the maximum number of queued messages"
            )
        return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")

    def _schedule_progress(self, record: MessageRecord, undelivered: bool) -> None:
        token = self.ctx.twilio_auth_token
        stats = self.ctx.stats

        def callback(status: str) -> Outgoing | None:
            record.status = status
            record.updated = time.time()
            if status == "sent":
                record.sent = record.updated
            elif status == "undelivered":
                record.error_code, record.error_message = 30003, "Unreachable destination handset"
                stats.incr("twilio.messages.undelivered")
            if not record.status_callback:
                return None
            params = [
                ("AccountSid", record.account_sid),
                ("ApiVersion", API_VERSION),
                ("From", record.from_ or ""),
                ("MessageSid", record.sid),
                ("MessageStatus", status),
                ("SmsSid", record.sid),
                ("SmsStatus", status),
                ("To", record.to),
            ]
            if record.messaging_service_sid:
                params.append(("MessagingServiceSid", record.messaging_service_sid))
            if record.error_code is not None:
                params.append(("ErrorCode", str(record.error_code)))
            return signed_callback(record.status_callback, params, token, "twilio.callbacks", "POST")

        final = "undelivered" if undelivered else "delivered"
        self.ctx.jobs.schedule(
            [
                JobStep(lambda: callback("sent"), gap=self.ctx.callback_delay),
                JobStep(lambda: callback(final), gap=0.0),
            ]
        )

    def list(self, request: Request) -> Response:
        self.ctx.stats.incr("twilio.messages.list")
        denied = check_auth(request, self.ctx.twilio_auth_token)
        if denied is not None:
            return denied
        sender = request.arg("From")
        window = time_filter(request.query, "DateSent")

        def keep(record: MessageRecord) -> bool:
            if sender and record.from_ != sender:
                return False
            # A message still queued has no date_sent yet; its creation time stands in so a
            # reconciliation right after a crash still finds it.
            return in_time_window(record.sent or record.created, window)

        path = f"/2010-04-01/Accounts/{request.params['AccountSid']}/Messages.json"
        page = self.store.page(request.query, path, "messages", keep)
        return page if isinstance(page, Response) else json_response(200, page)

    def fetch(self, request: Request) -> Response:
        self.ctx.stats.incr("twilio.messages.fetch")
        denied = check_auth(request, self.ctx.twilio_auth_token)
        return denied if denied is not None else self.store.fetch_response(request)
