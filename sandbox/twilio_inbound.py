"""A resident texts a department's number: Twilio's incoming-message webhook, and the TwiML reply.

Like a number's "A message comes in" URL in the Twilio console, the sandbox has one SMS URL
(``PUT /sandbox/twilio/sms-url``, or ``Sandbox(sms_webhook_url=...)``). ``POST /sandbox/sms/inbound``
with ``{"from", "to", "body"}`` (JSON or a form) posts the fields Twilio posts, signed with
``X-Twilio-Signature``, waits for the answer and, as Twilio does, sends each ``<Message>`` of the
TwiML reply back to the resident: it lands in the inbox as an SMS to them from the number they
wrote to. Passing ``"sid"`` again repeats a MessageSid, as a retried webhook does.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import phonenumbers

from sandbox.callbacks import Outgoing
from sandbox.constants import SANDBOX_TWILIO_ACCOUNT_SID
from sandbox.context import SandboxContext
from sandbox.inbox import InboxItem
from sandbox.server import Request, Response, Router, json_response
from sandbox.twilio_common import API_VERSION, new_sid, signed_callback, sms_segments

MAX_BODY = 1600


def _country(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def incoming_form(sid: str, from_: str, to: str, body: str) -> list[tuple[str, str]]:
    """The fields Twilio posts for an incoming SMS (in its order; city, state and zip left empty)."""
    return [
        ("ToCountry", _country(to)), ("ToState", ""), ("SmsMessageSid", sid), ("NumMedia", "0"),
        ("ToCity", ""), ("FromZip", ""), ("SmsSid", sid), ("FromState", ""), ("SmsStatus", "received"),
        ("FromCity", ""), ("Body", body), ("FromCountry", _country(from_)), ("To", to), ("ToZip", ""),
        ("NumSegments", str(sms_segments(body)[1])), ("MessageSid", sid),
        ("AccountSid", SANDBOX_TWILIO_ACCOUNT_SID), ("From", from_), ("ApiVersion", API_VERSION),
    ]


def twiml_messages(document: bytes) -> list[tuple[str | None, str | None, str]] | None:
    """``(to, from, text)`` of each ``<Message>``; None when the answer is not TwiML (Twilio's 12100)."""
    if not document.strip():
        return []
    try:
        root = ET.fromstring(document)
    except ET.ParseError:
        return None
    if root.tag != "Response":
        return None
    found = []
    for message in root.iter("Message"):
        body = message.find("Body")
        text = (body.text if body is not None else message.text) or ""
        found.append((message.get("to"), message.get("from"), text.strip()))
    return found


class TwilioInbound:
    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx

    def register(self, router: Router) -> None:
        router.add("PUT", "/sandbox/twilio/sms-url", self.set_url)
        router.add("POST", "/sandbox/sms/inbound", self.receive)

    def clear(self) -> None:
        """The SMS URL is configuration, like the LINE webhook URL: clearing the inbox keeps it."""

    def set_url(self, request: Request) -> Response:
        payload = request.json() or {}
        self.ctx.twilio_sms_url = payload.get("url") or None
        return json_response(200, {"url": self.ctx.twilio_sms_url})

    def receive(self, request: Request) -> Response:
        if (request.header("Content-Type") or "").startswith("application/json"):
            spec = request.json() or {}
        else:
            spec = {key: values[0] for key, values in request.form().items() if values}
        if not isinstance(spec, dict):
            return json_response(400, {"message": 'expected {"from", "to", "body"}'})
        from_, to, body = (str(spec.get(k) or "").strip() for k in ("from", "to", "body"))
        if not from_.startswith("+") or not to.startswith("+"):
            return json_response(400, {"message": "from and to are E.164 numbers (+81…)"})
        if len(body) > MAX_BODY:
            return json_response(400, {"message": f"an SMS body is at most {MAX_BODY} characters"})
        try:
            result = self.send(from_, to, body, str(spec.get("sid") or "") or None)
        except LookupError as exc:
            return json_response(409, {"message": str(exc)})
        except OSError as exc:
            return json_response(502, {"message": f"SMS URL unreachable: {exc}"})
        if spec.get("redirect"):  # the inbox page's form: back to the page, where the reply now is
            return Response(303, b"", "text/plain", [("Location", "/sandbox/?channel=sms")])
        return json_response(200, result)

    def send(self, from_: str, to: str, body: str, sid: str | None = None) -> dict[str, Any]:
        """Post the signed webhook now; the TwiML reply's messages go to the inbox.

        Returns ``{"sid", "status", "body", "replies": [inbox items], "error_code"}``.
        """
        url = self.ctx.twilio_sms_url
        if not url:
            raise LookupError("no SMS URL is set (PUT /sandbox/twilio/sms-url)")
        sid = sid or new_sid("SM")
        out: Outgoing = signed_callback(url, incoming_form(sid, from_, to, body), self.ctx.twilio_auth_token,
                                        "twilio.sms.incoming", "POST")
        self.ctx.stats.incr("twilio.sms.incoming")
        reply = self.ctx.jobs.sender.send(out)
        result: dict[str, Any] = {"sid": sid, "status": reply.status,
                                  "body": reply.body.decode("utf-8", "replace"), "replies": [], "error_code": None}
        if reply.status != 200:
            result["error_code"] = 11200  # Twilio: HTTP retrieval failure; nothing is sent back
            return result
        messages = twiml_messages(reply.body)
        if messages is None:
            result["error_code"] = 12100  # Twilio: document parse failure
            return result
        for reply_to, reply_from, text in messages:
            if not text:
                continue
            encoding, segments = sms_segments(text)
            item = InboxItem("sms", reply_to or from_, reply_from or to, text, new_sid("SM"),
                             meta={"gateway": "twilio", "reply_to_sid": sid, "num_segments": segments,
                                   "encoding": encoding, "twiml": True})
            self.ctx.inbox.add(item)
            result["replies"].append(item.to_dict())
        return result
