"""Network failures, told apart by whether the request may have reached the provider.

Shared by every HTTP-based adapter: "never left this machine" is safe to retry, anything else is
ambiguous and must become UNKNOWN (then reconciled), never a blind resend.
"""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import requests
import urllib3.exceptions

from channels.base import DeliveryResult, Outcome, Recipient
from channels.errors import Unreachable


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None)])
        todo.extend(a for a in e.args if isinstance(a, BaseException))


def may_have_reached_provider(exc: BaseException) -> bool:
    """False only when the request certainly never left: refused, unresolvable, connect timeout.

    A read timeout or a connection reset after the request was written may hide an accepted
    send, and a blind resend would be a second SMS to a resident.
    """
    never_sent = (
        ConnectionRefusedError,
        requests.ConnectTimeout,
        urllib3.exceptions.NewConnectionError,
        urllib3.exceptions.ConnectTimeoutError,
        aiohttp.ClientConnectorError,  # no connection was made: refused, DNS, TLS handshake
        aiohttp.ConnectionTimeoutError,  # connect timeout (a read timeout is SocketTimeoutError)
    )
    return not any(isinstance(e, never_sent) for e in _causes(exc))


NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    aiohttp.ClientError,
    OSError,  # includes TimeoutError, which asyncio raises
)


def network_result(recipient: Recipient, exc: BaseException, what: str) -> DeliveryResult:
    """The result for a request that died on the network; raises when nothing was sent."""
    if not may_have_reached_provider(exc):
        raise Unreachable(f"{what}に接続できませんでした（未送信）: {type(exc).__name__}")
    return DeliveryResult(
        recipient.delivery_id,
        Outcome.UNKNOWN,
        error=f"{what}からの応答がありませんでした（送信済みの可能性があります。確認が必要です）: "
        f"{type(exc).__name__}",
        error_code="timeout",
    )
