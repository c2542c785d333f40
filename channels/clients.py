"""Factories for the OFFICIAL provider SDKs, pointed at a base URL (the sandbox) or the real API.

``base_url=None`` means the real provider.  Anything else (``http://127.0.0.1:8025``) sends the
SDK's requests there unchanged apart from scheme and host, so the code path is the production
one.  Every client gets a timeout (none of the SDKs has a sane default) and is meant to be
created once per worker process and reused: each keeps a connection pool (HTTP keep-alive).

Timeouts surface as the transport's own exceptions, which callers translate at their boundary:
Twilio and tweepy raise ``requests.exceptions.ReadTimeout`` (request sent, outcome unknown) or
``requests.exceptions.ConnectionError`` (never sent); LINE raises urllib3's ``ReadTimeoutError``
(outcome unknown) or ``NewConnectionError`` / ``ConnectTimeoutError`` (never sent) — note that in
urllib3 2.x ``NewConnectionError`` is also a ``TimeoutError``: test for ``ReadTimeoutError``.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import smtplib
import ssl
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit, urlunsplit

import aiohttp
import requests
import tweepy
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi
from linebot.v3.messaging.rest import RESTClientObject
from requests.adapters import HTTPAdapter
from twilio.http import AsyncHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client as TwilioClient
from twilio.rest.api.v2010.account.call import CallList  # noqa: F401  (imported lazily by the SDK otherwise)
from twilio.rest.api.v2010.account.message import MessageList  # noqa: F401

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
X_API_ORIGIN = "https://api.twitter.com"


def _ensure_no_proxy_for_local(base_url: str | None) -> None:
    """A corporate HTTP(S)_PROXY must never capture traffic meant for the local sandbox."""
    if not base_url or urlsplit(base_url).hostname not in LOCAL_HOSTS:
        return
    for name in ("NO_PROXY", "no_proxy"):
        present = [h.strip() for h in os.environ.get(name, "").split(",") if h.strip()]
        missing = [h for h in ("127.0.0.1", "localhost") if h not in present]
        if missing:
            os.environ[name] = ",".join(present + missing)


@functools.lru_cache(maxsize=256)  # a few distinct URLs per account: one per resource kind
def _rebase(url: str, base_url: str) -> str:
    """Keep path and query of ``url``; take scheme, host and any path prefix from ``base_url``."""
    target, base = urlsplit(url), urlsplit(base_url)
    return urlunsplit(
        (base.scheme, base.netloc, base.path.rstrip("/") + target.path, target.query, target.fragment)
    )


class RebasingTwilioHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client with every URL moved to ``base_url`` (all Twilio domains)."""

    def __init__(self, base_url: str | None, timeout: float, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, **kwargs)
        self.base_url = base_url.rstrip("/") if base_url else None
        if self.session is not None:
            # The stock client sizes its pool for https only; the sandbox is plain http.
            self.session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=32))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        if self.base_url:
            url = _rebase(url, self.base_url)
        return super().request(method, url, params, data, headers, auth, timeout, allow_redirects)


def make_twilio_client(
    account_sid: str, auth_token: str, base_url: str | None, timeout: float
) -> TwilioClient:
    _ensure_no_proxy_for_local(base_url)
    http_client = RebasingTwilioHttpClient(base_url, timeout=timeout)
    return TwilioClient(account_sid, auth_token, http_client=http_client)


class AsyncRebasingTwilioHttpClient(AsyncHttpClient):
    """The SDK's async client contract (``create_async``) on aiohttp, rebased like the sync one.

    Written here rather than subclassing the SDK's ``AsyncTwilioHttpClient``, which ignores its own
    timeout, hands ``aiohttp`` a deprecated ``auth`` and cannot encode list parameters (a call's
    ``StatusCallbackEvent``). Timeouts keep the sync client's meaning: a connect timeout
    (``aiohttp.ConnectionTimeoutError``: never sent) is told apart from a read timeout (sent,
    answer lost). The body is form-encoded exactly as ``requests`` does it.
    """

    def __init__(self, base_url: str | None, timeout: float, connections: int) -> None:
        super().__init__(logger=logging.getLogger("twilio.http_client"), is_async=True, timeout=timeout)
        self.base_url = base_url.rstrip("/") if base_url else None
        proxy_free = bool(self.base_url and urlsplit(self.base_url).hostname in LOCAL_HOSTS)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout),
            trust_env=not proxy_free,
            cookie_jar=aiohttp.DummyCookieJar(),  # Twilio's API sets none; a jar costs every request
        )

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        if self.base_url:
            url = _rebase(url, self.base_url)
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = _basic(*auth)
        body = None
        if data:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            body = form_encoded(data)
        query = urlencode(list((params or {}).items()), doseq=True)
        if query:
            url += ("&" if "?" in url else "?") + query
        limits = _timeouts(timeout) if timeout else self.session.timeout
        async with self.session.request(method.upper(), url, data=body, headers=headers,
                                        allow_redirects=allow_redirects, timeout=limits) as response:
            # A local, never an attribute of the shared client: concurrent requests keep their answers.
            return TwilioResponse(response.status, await response.text(), response.headers)

    async def close(self) -> None:
        await self.session.close()


def form_encoded(data: dict[str, object]) -> str:
    """``urlencode(data.items(), doseq=True)``, as ``requests`` encodes a form, with each value's
    quoting remembered: a batch sends one Japanese body and one sender to every recipient, and
    quoting the body's every byte again per SMS was a twentieth of a worker's time."""
    parts = []
    for key, value in data.items():
        if isinstance(value, str):
            parts.append(f"{_quoted(key)}={_quoted(value)}")
        elif encoded := urlencode([(key, value)], doseq=True):  # lists, numbers: as urlencode does them
            parts.append(encoded)
    return "&".join(parts)


@functools.lru_cache(maxsize=1024)
def _quoted(text: str) -> str:
    return quote_plus(text)


@functools.lru_cache(maxsize=16)
def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@functools.lru_cache(maxsize=16)
def _timeouts(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(sock_connect=seconds, sock_read=seconds)


async def make_twilio_async_client(
    account_sid: str, auth_token: str, base_url: str | None, timeout: float, connections: int
) -> TwilioClient:
    """A Twilio client for ``create_async``; call it on the event loop that will use it."""
    _ensure_no_proxy_for_local(base_url)
    http_client = AsyncRebasingTwilioHttpClient(base_url, timeout, connections)
    return TwilioClient(account_sid, auth_token, http_client=http_client)


class _TimeoutRESTClient(RESTClientObject):
    """The LINE SDK's REST client with a default timeout when the caller passes none."""

    def __init__(self, configuration: Configuration, timeout: float) -> None:
        super().__init__(configuration)
        self.default_timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("_request_timeout") is None:
            kwargs["_request_timeout"] = self.default_timeout
        return super().request(*args, **kwargs)


def make_line_api(access_token: str, base_url: str | None, timeout: float) -> MessagingApi:
    """A ``MessagingApi`` whose every call times out after ``timeout`` unless the caller passes
    ``_request_timeout`` itself.  Use ``*_with_http_info`` to read ``x-line-request-id``."""
    configuration = Configuration(host=base_url.rstrip("/") if base_url else None, access_token=access_token)
    # False, not 0: with 0 urllib3 still wraps connection errors (and any error on GET) in
    # MaxRetryError; False raises the underlying error for every method, so callers can tell
    # ReadTimeoutError ("maybe accepted") from NewConnectionError/ConnectTimeoutError ("never
    # sent").  Never retry here: a resend is the caller's decision, made with X-Line-Retry-Key.
    configuration.retries = False
    configuration.connection_pool_maxsize = 16
    api_client = ApiClient(configuration)
    api_client.rest_client = _TimeoutRESTClient(configuration, timeout)
    return MessagingApi(api_client)


class _RebasingAdapter(HTTPAdapter):
    """Sends requests for the X API to ``base_url``, with a timeout when none was given.

    tweepy builds URLs on a fixed host and has no timeout option; mounting this adapter on its
    session changes only the destination.  OAuth 1.0a was already computed over the original
    URL, which is what X itself verifies.
    """

    def __init__(self, base_url: str | None, timeout: float) -> None:
        super().__init__(pool_connections=2, pool_maxsize=16)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.default_timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self.base_url and request.url:
            request.url = _rebase(request.url, self.base_url)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().send(request, **kwargs)


def make_tweepy_client(
    consumer_key: str,
    consumer_secret: str,
    access_token: str,
    access_token_secret: str,
    base_url: str | None,
    timeout: float,
) -> tweepy.Client:
    _ensure_no_proxy_for_local(base_url)
    client = tweepy.Client(
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        access_token=access_token,
        access_token_secret=access_token_secret,
        # Sleeping until the rate-limit window resets would block a worker for up to 15 minutes;
        # the hub schedules the retry itself from the TooManyRequests reset time.
        wait_on_rate_limit=False,
    )
    client.session.mount(X_API_ORIGIN, _RebasingAdapter(base_url, timeout))
    return client


def smtp_connection(
    host: str,
    port: int,
    username: str | None = None,
    password: str | None = None,
    starttls: bool = False,
    timeout: float = 10.0,
    *,
    implicit_tls: bool = False,
    ca_file: str | None = None,
) -> smtplib.SMTP:
    """An open, greeted (and optionally authenticated) SMTP connection; the caller quits it.

    TLS (SMTPS or STARTTLS) verifies the server's certificate and name against the system's CAs,
    or ``ca_file`` for a private CA: an alert and the SMTP password never go to an impostor.
    A server that does not offer STARTTLS when it is configured is an error, never a fallback to
    plain text.
    """
    context = ssl.create_default_context(cafile=ca_file) if (starttls or implicit_tls) else None
    conn = (smtplib.SMTP_SSL(host, port, timeout=timeout, context=context) if implicit_tls
            else smtplib.SMTP(host, port, timeout=timeout))
    try:
        conn.ehlo()
        if starttls and not implicit_tls:
            conn.starttls(context=context)
            conn.ehlo()
        if username:
            conn.login(username, password or "")
    except BaseException:
        conn.close()
        raise
    return conn
