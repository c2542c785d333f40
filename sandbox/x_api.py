"""X API v2 posts: ``POST /2/tweets`` and ``DELETE /2/tweets/{id}``.

Duplicates of a live post are refused with 403 as X does; the hub must read that as "possibly
already posted" after a timeout, so the sandbox keeps the rule exact.  Deleting marks the inbox
copy ``deleted`` (corrections delete and re-post).
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import unicodedata
from typing import Any

from sandbox.context import SandboxContext
from sandbox.faults import Fault
from sandbox.inbox import InboxItem, utc_now_iso
from sandbox.server import Request, Response, Router, json_response

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
URL_RE = re.compile(r"https?://[^\s]+")
# twitter-text v3: these code points weigh 1, everything else (kana, kanji, 【】, emoji) weighs 2.
LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
TWITTER_EPOCH_MS = 1288834974657
_sequence = itertools.count()
_OAUTH_TOKEN_RE = re.compile(r'oauth_token="([^"]*)"')


def weighted_length(text: str) -> int:
    """Length as X counts it: each URL is 23, other code points 1 or 2 by range (after NFC)."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    for url in URL_RE.findall(text):
        total += URL_WEIGHT
        text = text.replace(url, "", 1)
    for ch in text:
        code = ord(ch)
        total += 1 if any(low <= code <= high for low, high in LIGHT_RANGES) else 2
    return total


def _snowflake() -> str:
    return str(((int(time.time() * 1000) - TWITTER_EPOCH_MS) << 22) | (next(_sequence) & 0x3FFFFF))


def _problem(status: int, title: str, detail: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return json_response(
        status, {"title": title, "detail": detail, "type": "about:blank", "status": status}, headers
    )


def _invalid(detail: str, text: Any) -> Response:
    return json_response(
        400,
        {
            "errors": [{"parameters": {"text": [text]}, "message": detail}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )


class XApi:
    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._tweets: dict[str, InboxItem] = {}
        self._live_by_text: dict[str, str] = {}

    def register(self, router: Router) -> None:
        router.add("POST", "/2/tweets", self.create)
        router.add("DELETE", "/2/tweets/{id}", self.delete)

    def clear(self) -> None:
        with self._lock:
            self._tweets.clear()
            self._live_by_text.clear()

    @staticmethod
    def _account(request: Request) -> str | None:
        header = request.header("Authorization") or ""
        if not header.startswith("OAuth "):
            return None
        found = _OAUTH_TOKEN_RE.search(header)
        # Access tokens start with the numeric user id: "1234-abc..." posts as user 1234.
        return found.group(1).split("-", 1)[0] if found else "unknown"

    def _fault_reply(self, fault: Fault) -> Response:
        if fault.kind == "429":
            reset = str(int(time.time()) + 900)
            headers = [
                ("x-rate-limit-limit", "100"),
                ("x-rate-limit-remaining", "0"),
                ("x-rate-limit-reset", reset),
            ]
            return _problem(429, "Too Many Requests", "Too Many Requests", headers)
        if fault.kind == "duplicate":
            return self._duplicate()
        return _problem(500, "Internal Server Error", "Internal Server Error")

    @staticmethod
    def _duplicate() -> Response:
        detail = "You are not allowed to create a Tweet with duplicate content."
        return _problem(403, "Forbidden", detail)

    def create(self, request: Request) -> Response:
        self.ctx.stats.incr("x.tweets.create")
        account = self._account(request)
        if account is None:
            return _problem(401, "Unauthorized", "Unauthorized")
        try:
            payload = request.json()
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            return _invalid("The request body is not valid JSON.", None)
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            if not payload.get("media"):
                return _invalid("text or media must be present.", text)
            text = text or ""
        if weighted_length(text) > MAX_WEIGHTED_LENGTH:
            return _invalid("Your Tweet text is too long.", text)
        fault = self.ctx.faults.take("x", ("public", text))
        if fault is not None and fault.kind != "timeout":
            return self._fault_reply(fault)
        tweet_id = _snowflake()
        with self._lock:
            if text and text in self._live_by_text:
                return self._duplicate()
            if text:
                self._live_by_text[text] = tweet_id
            meta: dict[str, Any] = {"tweet_id": tweet_id, "account": account, "deleted": False}
            if payload.get("reply"):
                meta["reply"] = payload["reply"]
            item = InboxItem("x", "public", account, text, tweet_id, meta=meta)
            self._tweets[tweet_id] = item
        self.ctx.inbox.add(item)
        response = json_response(
            201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}
        )
        if fault is not None:
            response.delay = fault.timeout_delay
        return response

    def delete(self, request: Request) -> Response:
        self.ctx.stats.incr("x.tweets.delete")
        if self._account(request) is None:
            return _problem(401, "Unauthorized", "Unauthorized")
        tweet_id = request.params["id"]
        fault = self.ctx.faults.take("x", ("public",), kinds=("429", "500"))
        if fault is not None:
            return self._fault_reply(fault)
        with self._lock:
            item = self._tweets.get(tweet_id)
            if item is None or item.meta.get("deleted"):
                return json_response(
                    404,
                    {
                        "title": "Not Found Error",
                        "detail": f"Could not find tweet with id: [{tweet_id}].",
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                        "resource_type": "tweet",
                        "resource_id": tweet_id,
                        "parameter": "id",
                        "value": tweet_id,
                    },
                )
            if self._live_by_text.get(item.text) == tweet_id:
                del self._live_by_text[item.text]
            self.ctx.inbox.update_meta(item, deleted=True, deleted_at=utc_now_iso())
        return json_response(200, {"data": {"deleted": True}})
