"""Posts on X (the city's official account): one public post per message.

X has no idempotency key, but it refuses a post identical to a recent one (403 "duplicate
content"). On a retry that refusal is the evidence that our earlier attempt went out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from channels.base import (
    Batch,
    Capability,
    Channel,
    ChannelConfig,
    ChannelContext,
    DeliveryResult,
    Draft,
    Outcome,
    Rendered,
    Requesting,
    SendEvent,
    prefix_for,
)
from channels.errors import PermanentError, RateLimited, TransientError
from channels.net import NETWORK_ERRORS, network_result
from channels.text import X_MAX_WEIGHT, join_nonempty, shorten, signature, with_prefix, x_weighted_length

if TYPE_CHECKING:
    import tweepy

    from hub.config import Settings

ADDRESS_RE = re.compile(r"^x:@?[A-Za-z0-9_]{1,15}$")
DUPLICATE_CODE = 187  # v1.1 code, still seen in some v2 error bodies


@dataclass(frozen=True)
class XConfig(ChannelConfig):
    consumer_key: str = ""
    consumer_secret: str = field(default="", metadata={"secret": True})
    access_token: str = ""
    access_token_secret: str = field(default="", metadata={"secret": True})
    base_url: str | None = None  # None: the real api.twitter.com

    @classmethod
    def from_settings(cls, settings: Settings) -> XConfig:
        """From settings only: ``x_base_url`` if set (e.g. the sandbox), else the real api.twitter.com."""
        return cls(
            sandbox=settings.uses_sandbox("x"),
            consumer_key=settings.x_consumer_key,
            consumer_secret=settings.x_consumer_secret,
            access_token=settings.x_access_token,
            access_token_secret=settings.x_access_token_secret,
            base_url=settings.x_base_url or None,
        )


def _post_id(response: Any) -> str | None:
    """The new post's id, whatever ``return_type`` the client was built with."""
    data = getattr(response, "data", None)
    if data is None and isinstance(response, dict):
        data = response.get("data")
    if data is None and hasattr(response, "json"):
        data = response.json().get("data")
    if isinstance(data, dict) and data.get("id") is not None:
        return str(data["id"])
    return None


def _status(exc: Any) -> int:
    response = getattr(exc, "response", None)
    return int(getattr(response, "status_code", 0) or getattr(response, "status", 0) or 0)


def _is_duplicate(exc: Any) -> bool:
    messages = " ".join(str(m) for m in getattr(exc, "api_messages", []))
    return DUPLICATE_CODE in getattr(exc, "api_codes", []) or "duplicate" in (messages or str(exc)).lower()


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    reset = getattr(response, "headers", {}).get("x-rate-limit-reset") if response is not None else None
    if reset is None:
        return None
    try:
        return max(1.0, float(reset) - time.time())
    except ValueError:
        return None


class XChannel(Channel):
    name = "x"
    label = "X（旧Twitter）"
    capabilities = Capability.BROADCAST | Capability.RETRACT
    config_class = XConfig
    batch_size = 1
    max_chars = X_MAX_WEIGHT  # weighted: 全角140字
    address_field = None
    config: XConfig

    def __init__(self, config: ChannelConfig, context: ChannelContext | None = None) -> None:
        super().__init__(config, context)
        self._client: tweepy.Client | None = None

    def client(self) -> tweepy.Client:
        if self._client is None:
            from channels.clients import make_tweepy_client

            c = self.config
            self._client = make_tweepy_client(
                c.consumer_key,
                c.consumer_secret,
                c.access_token,
                c.access_token_secret,
                c.base_url,
                self.context.timeout,
            )
        return self._client

    def render(self, draft: Draft) -> Rendered:
        prefix = prefix_for(draft)
        main = with_prefix(prefix, draft.override or join_nonempty(draft.title, draft.body))
        # The department's name and the link are kept whole: only the officer's words are shortened.
        suffix = "".join(f"\n{part}" for part in (signature(draft.sender_name), draft.link) if part)
        budget = X_MAX_WEIGHT - x_weighted_length(suffix)
        warnings: list[str] = []
        errors: list[str] = []
        before = x_weighted_length(main)
        if before > budget:
            # Only what follows the prefix is cut: 【訓練】 must survive any shortening.
            main = prefix + shorten(
                main[len(prefix) :], budget - x_weighted_length(prefix), x_weighted_length
            )
            hint = (
                "全文はリンク先で読めます"
                if draft.link
                else "全文を載せたページのリンクを付けることをおすすめします"
            )
            warnings.append(
                f"Xの上限（全角140字相当）に合わせて本文を短くしました"
                f"（{before + x_weighted_length(suffix)}→{x_weighted_length(main + suffix)}）。{hint}"
            )
        text = main + suffix
        if x_weighted_length(text) > X_MAX_WEIGHT:
            errors.append(f"Xに投稿できる長さを超えています（{x_weighted_length(text)}/{X_MAX_WEIGHT}）")
        return Rendered(
            subject=None,
            text=text,
            warnings=tuple(warnings),
            errors=tuple(errors),
            units=1,
            meta={"weighted_length": x_weighted_length(text)},
        )

    def check_address(self, address: str) -> str | None:
        return None if ADDRESS_RE.match(address) else "invalid_address"

    def _send(self, batch: Batch) -> Iterable[SendEvent]:
        import tweepy

        client = self.client()
        for recipient in batch.recipients:
            self.context.throttle(batch.sender, 1)
            yield Requesting((recipient.delivery_id,))
            try:
                response = client.create_tweet(text=batch.content_for(recipient).text, user_auth=True)
            except tweepy.HTTPException as exc:
                yield self._failure(recipient.delivery_id, exc, batch.attempt)
                continue
            except NETWORK_ERRORS as exc:
                yield network_result(recipient, exc, "X")
                continue
            yield DeliveryResult(recipient.delivery_id, Outcome.SENT, provider_id=_post_id(response))

    def _failure(self, delivery_id: int, exc: Any, attempt: int) -> DeliveryResult:
        status = _status(exc)
        detail = f"（X {status}: {' / '.join(map(str, exc.api_messages)) or exc}）"
        if status == 429:
            raise RateLimited(
                "Xの投稿数の上限に達しました" + detail,
                retry_after=_retry_after(exc),
                code="429",
            )
        if status == 401:
            raise PermanentError(
                "Xの認証に失敗しました。APIキーとアクセストークンを確認してください" + detail, code="401"
            )
        if status == 403 and _is_duplicate(exc):
            if attempt > 1:
                # Our earlier attempt (whose answer we lost) is the post X is comparing with.
                return DeliveryResult(
                    delivery_id,
                    Outcome.SENT,
                    error_code="duplicate",
                    error="前回の試行で投稿済みでした（Xが同じ内容の投稿を拒否しました）",
                )
            return DeliveryResult(
                delivery_id,
                Outcome.FAILED,
                error_code="duplicate",
                error="同じ内容の投稿が最近ありXに拒否されました。文面を変えて送り直してください" + detail,
            )
        if status >= 500:
            return DeliveryResult(
                delivery_id,
                Outcome.RETRY,
                error_code=str(status),
                error="X側の一時的な障害です" + detail,
            )
        return DeliveryResult(
            delivery_id,
            Outcome.FAILED,
            error_code=str(status),
            error="Xが投稿を受け付けませんでした" + detail,
        )

    def retract(self, provider_id: str) -> bool:
        """Delete a post (a cancelled message must not stay up). True if it is gone now."""
        import tweepy

        try:
            self.client().delete_tweet(provider_id, user_auth=True)
        except tweepy.NotFound:
            return True  # already deleted: the goal is reached
        except tweepy.TooManyRequests as exc:
            raise RateLimited(
                "Xの削除の上限に達しました。後で削除します", retry_after=_retry_after(exc), code="429"
            ) from exc
        except tweepy.HTTPException as exc:
            status = _status(exc)
            if status >= 500:
                raise TransientError(
                    f"X側の一時的な障害で投稿を削除できませんでした（{status}）", code=str(status)
                ) from exc
            raise PermanentError(
                f"Xの投稿を削除できませんでした（{status}: {exc}）", code=str(status)
            ) from exc
        except NETWORK_ERRORS as exc:
            # Deleting twice is harmless (the second gets 404), so a lost answer is simply retried.
            raise TransientError(f"Xの削除要求に応答がありませんでした。後で再試行します: {exc!r}") from exc
        return True
