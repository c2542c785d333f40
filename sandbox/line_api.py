"""LINE Messaging API: reply, push, multicast, broadcast, narrowcast, quota; and webhook emission.

``X-Line-Retry-Key`` is honoured as LINE documents it: once a request with a key has been
accepted, every later request with that key gets 409 and ``x-line-accepted-request-id`` and
nothing is delivered again — the property the hub's at-least-once workers rely on.

Reply tokens are the ones this sandbox put in the events it emitted: each answers its event's
user once, within ``REPLY_TOKEN_SECONDS``; any other token gets LINE's 400 "Invalid reply token".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sandbox.callbacks import Outgoing
from sandbox.constants import SANDBOX_LINE_BOT_USER_ID
from sandbox.context import SandboxContext
from sandbox.faults import Fault
from sandbox.inbox import InboxItem
from sandbox.line_validate import message_text, validate_messages, validate_recipients
from sandbox.server import Request, Response, Router, json_response

_message_ids = itertools.count(int(time.time() * 1000) * 100_000)
REPLY_TOKEN_SECONDS = 60.0  # LINE asks for the reply soon after the event; a stale token is refused
REPLYABLE = ("message", "follow", "join", "postback", "beacon", "memberJoined", "things")


def _iso_ms(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sign_body(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def _ulid_like() -> str:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(26))


class LineApi:
    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._accepted: dict[str, tuple[str, list[dict[str, str]] | None]] = {}
        self._narrowcasts: dict[str, float] = {}
        self._usage = 0
        self._reply_tokens: dict[str, tuple[str, float]] = {}  # token -> (user id, issued at)

    def register(self, router: Router) -> None:
        router.add("POST", "/v2/bot/message/reply", self.reply)
        router.add("POST", "/v2/bot/message/push", self.push)
        router.add("POST", "/v2/bot/message/multicast", self.multicast)
        router.add("POST", "/v2/bot/message/broadcast", self.broadcast)
        router.add("POST", "/v2/bot/message/narrowcast", self.narrowcast)
        router.add("GET", "/v2/bot/message/progress/narrowcast", self.narrowcast_progress)
        router.add("GET", "/v2/bot/message/quota", self.quota)
        router.add("GET", "/v2/bot/message/quota/consumption", self.quota_consumption)
        router.add("GET", "/v2/bot/profile/{userId}", self.profile)
        router.add("POST", "/sandbox/line/events", self.emit_events)
        router.add("PUT", "/sandbox/line/webhook", self.set_webhook)

    def clear(self) -> None:
        with self._lock:
            self._accepted.clear()
            self._narrowcasts.clear()
            self._reply_tokens.clear()
            self._usage = 0

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _reply(
        status: int, payload: Any, request_id: str, extra: list[tuple[str, str]] | None = None
    ) -> Response:
        return json_response(status, payload, [("x-line-request-id", request_id), *(extra or [])])

    def _authorised(self, request: Request) -> bool:
        return request.header("Authorization") == f"Bearer {self.ctx.line_access_token}"

    def _fault_reply(self, fault: Fault, request_id: str) -> Response:
        if fault.kind == "429":
            return self._reply(429, {"message": "Too Many Requests"}, request_id)
        if fault.kind == "duplicate":
            accepted = [("x-line-accepted-request-id", str(uuid.uuid4()))]
            return self._reply(409, {"message": "The retry key is already accepted"}, request_id, accepted)
        return self._reply(500, {"message": "Internal Server Error"}, request_id)

    def issue_reply_token(self, user_id: str) -> str:
        """A reply token for an event of ``user_id`` (put in the events this sandbox emits)."""
        token = secrets.token_hex(16)
        with self._lock:
            self._reply_tokens[token] = (user_id, time.time())
        return token

    def _take_reply_token(self, token: Any) -> str | None:
        with self._lock:
            issued = self._reply_tokens.pop(token, None) if isinstance(token, str) else None
        if issued is None or time.time() - issued[1] > REPLY_TOKEN_SECONDS:
            return None
        return issued[0]

    def _send(self, request: Request, endpoint: str) -> Response:
        """The shared path of the four sending endpoints; ``endpoint`` picks recipients and answer."""
        self.ctx.stats.incr(f"line.{endpoint}")
        request_id = str(uuid.uuid4())
        if not self._authorised(request):
            message = (
                "Authentication failed. Confirm that the access token in the authorization header is valid."
            )
            return self._reply(401, {"message": message}, request_id)
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return self._reply(400, {"message": "The request body could not be parsed as JSON"}, request_id)
        if not isinstance(body, dict):
            return self._reply(400, {"message": "The request body could not be parsed as JSON"}, request_id)
        details = validate_messages(body.get("messages"))
        if endpoint == "reply" and not isinstance(body.get("replyToken"), str):
            details = [{"message": "Must not be empty", "property": "replyToken"}, *details]
        if endpoint in ("push", "multicast"):
            details = validate_recipients(body.get("to"), endpoint == "multicast") + details
        if details:
            message = f"The request body has {len(details)} error(s)"
            return self._reply(400, {"message": message, "details": details}, request_id)
        retry_key = request.header("X-Line-Retry-Key")
        if retry_key is not None:
            try:
                uuid.UUID(retry_key)
            except ValueError:
                return self._reply(
                    400, {"message": "The value for the 'X-Line-Retry-Key' header is invalid"}, request_id
                )
        user = ""
        if endpoint == "reply":
            # The token is used up by this request, whatever becomes of it (as on LINE).
            taken = self._take_reply_token(body["replyToken"])
            if taken is None:
                return self._reply(400, {"message": "Invalid reply token"}, request_id)
            user = taken
        recipients: list[str] = (
            [user]
            if endpoint == "reply"
            else [body["to"]]
            if endpoint == "push"
            else list(body["to"])
            if endpoint == "multicast"
            else [endpoint]
        )
        messages: list[dict[str, Any]] = body["messages"]
        sent = [self._sent_message(m) for m in messages] if endpoint in ("push", "reply") else None
        with self._lock:
            if retry_key is not None and retry_key in self._accepted:
                original, original_sent = self._accepted[retry_key]
                conflict: dict[str, Any] = {"message": "The retry key is already accepted"}
                if original_sent:
                    conflict["sentMessages"] = original_sent
                self.ctx.stats.incr("line.retry_key_conflicts")
                return self._reply(409, conflict, request_id, [("x-line-accepted-request-id", original)])
            fault = self.ctx.faults.take("line", recipients)
            if fault is not None and fault.kind != "timeout":
                return self._fault_reply(fault, request_id)
            if retry_key is not None:
                self._accepted[retry_key] = (request_id, sent)
            self._usage += len(recipients)
            if endpoint == "narrowcast":
                self._narrowcasts[request_id] = time.time()
        self._deliver(recipients, messages, endpoint, request_id, retry_key, sent, body)
        status, payload = (200, {"sentMessages": sent}) if sent is not None else (200, {})
        if endpoint == "narrowcast":
            status = 202
        response = self._reply(status, payload, request_id)
        if fault is not None:
            response.delay = fault.timeout_delay
        return response

    @staticmethod
    def _sent_message(message: dict[str, Any]) -> dict[str, str]:
        sent = {"id": str(next(_message_ids))}
        if message.get("type") in ("text", "textV2", "sticker", "image", "video"):
            sent["quoteToken"] = secrets.token_urlsafe(24)
        return sent

    def _deliver(
        self,
        recipients: list[str],
        messages: list[dict[str, Any]],
        endpoint: str,
        request_id: str,
        retry_key: str | None,
        sent: list[dict[str, str]] | None,
        body: dict[str, Any],
    ) -> None:
        text = message_text(messages)
        base_meta: dict[str, Any] = {
            "endpoint": endpoint,
            "request_id": request_id,
            "retry_key": retry_key,
            "messages": messages,
            "notification_disabled": bool(body.get("notificationDisabled", False)),
        }
        if sent is not None:
            base_meta["sent_message_ids"] = [s["id"] for s in sent]
        if endpoint == "narrowcast":
            base_meta.update({k: body.get(k) for k in ("recipient", "filter", "limit")})
        items = [
            InboxItem("line", to, "line-bot", text, request_id, meta=dict(base_meta)) for to in recipients
        ]
        self.ctx.inbox.add_many(items)

    # -- endpoints ---------------------------------------------------------------------------

    def reply(self, request: Request) -> Response:
        return self._send(request, "reply")

    def push(self, request: Request) -> Response:
        return self._send(request, "push")

    def multicast(self, request: Request) -> Response:
        return self._send(request, "multicast")

    def broadcast(self, request: Request) -> Response:
        return self._send(request, "broadcast")

    def narrowcast(self, request: Request) -> Response:
        return self._send(request, "narrowcast")

    def narrowcast_progress(self, request: Request) -> Response:
        self.ctx.stats.incr("line.narrowcast.progress")
        request_id = str(uuid.uuid4())
        if not self._authorised(request):
            return self._reply(401, {"message": "Authentication failed."}, request_id)
        wanted = request.arg("requestId") or ""
        accepted = self._narrowcasts.get(wanted)
        if accepted is None:
            return self._reply(404, {"message": "Not found"}, request_id)
        # The sandbox has no audiences: a narrowcast is one inbox copy, reported as done at once.
        progress = {
            "phase": "succeeded",
            "successCount": 1,
            "failureCount": 0,
            "targetCount": 1,
            "acceptedTime": _iso_ms(accepted),
            "completedTime": _iso_ms(accepted),
        }
        return self._reply(200, progress, request_id)

    def quota(self, request: Request) -> Response:
        self.ctx.stats.incr("line.quota")
        request_id = str(uuid.uuid4())
        if not self._authorised(request):
            return self._reply(401, {"message": "Authentication failed."}, request_id)
        return self._reply(200, {"type": "none"}, request_id)

    def quota_consumption(self, request: Request) -> Response:
        self.ctx.stats.incr("line.quota.consumption")
        request_id = str(uuid.uuid4())
        if not self._authorised(request):
            return self._reply(401, {"message": "Authentication failed."}, request_id)
        return self._reply(200, {"totalUsage": self._usage}, request_id)

    def profile(self, request: Request) -> Response:
        self.ctx.stats.incr("line.profile")
        request_id = str(uuid.uuid4())
        if not self._authorised(request):
            return self._reply(401, {"message": "Authentication failed."}, request_id)
        user_id = request.params["userId"]
        profile = {"displayName": f"サンドボックス利用者 {user_id[-4:]}", "userId": user_id, "language": "ja"}
        return self._reply(200, profile, request_id)

    # -- webhook -----------------------------------------------------------------------------

    def set_webhook(self, request: Request) -> Response:
        payload = request.json() or {}
        self.ctx.line_webhook_url = payload.get("url") or None
        return json_response(200, {"url": self.ctx.line_webhook_url})

    def emit_events(self, request: Request) -> Response:
        """Body: one event object, or ``{"events": [...]}``; missing envelope fields are filled in."""
        payload = request.json()
        events = payload.get("events") if isinstance(payload, dict) and "events" in payload else [payload]
        if not self.ctx.line_webhook_url:
            return json_response(409, {"message": "no LINE webhook URL is set (PUT /sandbox/line/webhook)"})
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return json_response(400, {"message": 'expected an event object or {"events": [...]}'})
        body = json.dumps(
            {"destination": SANDBOX_LINE_BOT_USER_ID, "events": [self._with_reply_token(self._complete(e))
                                                                 for e in events]},
            ensure_ascii=False,
        ).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Line-Signature": sign_body(self.ctx.line_channel_secret, body),
            "User-Agent": "LineBotWebhook/2.0",
        }
        out = Outgoing(self.ctx.line_webhook_url, "POST", [], headers, "line.webhook")
        self.ctx.stats.incr("line.webhook")
        try:
            reply = self.ctx.jobs.sender.send_raw(out, body)
        except OSError as exc:
            return json_response(502, {"message": f"webhook unreachable: {exc}"})
        return json_response(200, {"status": reply.status, "body": reply.body.decode("utf-8", "replace")})

    def _with_reply_token(self, event: dict[str, Any]) -> dict[str, Any]:
        # Only a token the sandbox issued can be replied to; an event given with its own keeps it
        # (and a reply with it is refused, as LINE refuses a token it did not issue).
        if event.get("type") in REPLYABLE and "replyToken" not in event:
            user = str((event.get("source") or {}).get("userId") or "")
            event["replyToken"] = self.issue_reply_token(user)
        return event

    @staticmethod
    def _complete(event: dict[str, Any]) -> dict[str, Any]:
        full = {
            "timestamp": int(time.time() * 1000),
            "mode": "active",
            "webhookEventId": _ulid_like(),
            "deliveryContext": {"isRedelivery": False},
            **event,
        }
        if full.get("type") == "follow":
            full.setdefault("follow", {"isUnblocked": False})
        full.setdefault("source", {"type": "user", "userId": "U" + secrets.token_hex(16)})
        return full
