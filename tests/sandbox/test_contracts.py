"""Every JSON body the sandbox answers with must match the provider's OpenAPI contract.

A scenario drives each emulated endpoint through success and error paths while an observer
records every response; each record is then validated against the spec's schema for its
path, method and status.  The scenario must reach every provider route the sandbox serves, so
a new endpoint cannot skip the check.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from linebot.v3.messaging import (
    ApiException,
    BroadcastRequest,
    MulticastRequest,
    NarrowcastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)
from twilio.base.exceptions import TwilioException

from channels.clients import make_line_api, make_twilio_client
from sandbox import (
    SANDBOX_LINE_ACCESS_TOKEN,
    SANDBOX_TWILIO_ACCOUNT_SID,
    SANDBOX_TWILIO_AUTH_TOKEN,
    Sandbox,
)
from sandbox.server import Request, Response
from tests.sandbox.contract_check import ContractError, check_response, load_spec

PROVIDER_PREFIXES = {"/2010-04-01/": "twilio", "/v2/": "line"}
MOBILE = "+819012345678"


@dataclass
class Record:
    provider: str
    method: str
    route: str
    status: int
    body: Any
    headers: dict[str, str]


def provider_of(route: str) -> str | None:
    return next((name for prefix, name in PROVIDER_PREFIXES.items() if route.startswith(prefix)), None)


def _twilio_scenario(url: str) -> None:
    client = make_twilio_client(SANDBOX_TWILIO_ACCOUNT_SID, SANDBOX_TWILIO_AUTH_TOKEN, url, timeout=5.0)
    sids = [client.messages.create(to=MOBILE, from_="+815000000000", body=f"本文{n}").sid for n in range(3)]
    client.messages.create(to=MOBILE, messaging_service_sid="MG" + "0" * 32, body="via service")
    client.messages(sids[0]).fetch()
    client.messages.list(to=MOBILE, page_size=2)
    call = client.calls.create(to=MOBILE, from_="+815000000000", twiml="<Response><Say>x</Say></Response>")
    client.calls(call.sid).fetch()
    client.calls.list(to=MOBILE)
    failing: list[Any] = [
        lambda: client.messages.create(to="+81312345678", from_="+815000000000", body="landline"),
        lambda: client.messages.create(to="bad", from_="+815000000000", body="x"),
        lambda: client.messages.create(to=MOBILE, from_="+815000000000", body="a" * 1601),
        lambda: client.messages("SM" + "0" * 32).fetch(),
        lambda: client.calls("CA" + "0" * 32).fetch(),
        lambda: client.calls.create(to="bad", from_="+815000000000", twiml="<Response/>"),
        lambda: make_twilio_client(SANDBOX_TWILIO_ACCOUNT_SID, "wrong", url, 5.0).messages.list(),
    ]
    for call_it in failing:
        with pytest.raises(TwilioException):
            call_it()


def _line_scenario(url: str) -> None:
    api = make_line_api(SANDBOX_LINE_ACCESS_TOKEN, url, timeout=5.0)
    text = [TextMessage(text="お知らせ")]
    key = str(uuid.uuid4())
    api.push_message(PushMessageRequest(to="U" + "a" * 32, messages=text), x_line_retry_key=key)
    api.multicast(MulticastRequest(to=["U" + "b" * 32], messages=text))
    api.broadcast(BroadcastRequest(messages=text))
    narrowcast = api.narrowcast_with_http_info(NarrowcastRequest(messages=text))
    api.get_narrowcast_progress(request_id=narrowcast.headers["x-line-request-id"])
    api.get_message_quota()
    api.get_message_quota_consumption()
    api.get_profile("U" + "a" * 32)
    with pytest.raises(ApiException):  # 409: the retry key was accepted
        api.push_message(PushMessageRequest(to="U" + "a" * 32, messages=text), x_line_retry_key=key)
    with pytest.raises(ApiException):  # 404: unknown narrowcast
        api.get_narrowcast_progress(request_id=str(uuid.uuid4()))
    with pytest.raises(ApiException):  # 401
        make_line_api("wrong", url, 5.0).broadcast(BroadcastRequest(messages=text))
    headers = {"Authorization": f"Bearer {SANDBOX_LINE_ACCESS_TOKEN}"}
    bad: dict[str, Any] = {"to": ["nobody"], "messages": [{"type": "text", "text": ""}]}
    assert (
        requests.post(f"{url}/v2/bot/message/multicast", json=bad, headers=headers, timeout=5).status_code
        == 400
    )


def _line_reply_scenario(sb: Sandbox) -> None:
    api = make_line_api(SANDBOX_LINE_ACCESS_TOKEN, sb.http_url, timeout=5.0)
    token = sb.line.issue_reply_token("U" + "d" * 32)
    api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="ようこそ")]))
    with pytest.raises(ApiException):  # 400: a token answers its event once
        api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="二度目")]))


def _fault_scenario(sb: Sandbox) -> None:
    twilio = make_twilio_client(SANDBOX_TWILIO_ACCOUNT_SID, SANDBOX_TWILIO_AUTH_TOKEN, sb.http_url, 5.0)
    for kind in ("429", "500", "queue_full", "invalid_number"):
        sb.inject_fault("sms", kind)
        with pytest.raises(TwilioException):
            twilio.messages.create(to=MOBILE, from_="+815000000000", body="x")
    for kind in ("429", "500", "invalid_number"):
        sb.inject_fault("voice", kind)
        with pytest.raises(TwilioException):
            twilio.calls.create(to=MOBILE, from_="+815000000000", twiml="<Response/>")
    api = make_line_api(SANDBOX_LINE_ACCESS_TOKEN, sb.http_url, 5.0)
    for kind in ("429", "500", "duplicate"):
        for send in (
            lambda: api.push_message(PushMessageRequest(to="U" + "c" * 32, messages=[TextMessage(text="x")])),
            lambda: api.multicast(MulticastRequest(to=["U" + "c" * 32], messages=[TextMessage(text="x")])),
            lambda: api.broadcast(BroadcastRequest(messages=[TextMessage(text="x")])),
            lambda: api.narrowcast(NarrowcastRequest(messages=[TextMessage(text="x")])),
        ):
            sb.inject_fault("line", kind)
            with pytest.raises(ApiException):
                send()


@pytest.fixture(scope="module")
def recorded() -> Iterator[list[Record]]:
    records: list[Record] = []

    def observe(request: Request, response: Response) -> None:
        provider = provider_of(request.route)
        if provider is not None:
            body = json.loads(response.body) if response.body else None
            records.append(
                Record(provider, request.method, request.route, response.status, body, dict(response.headers))
            )

    with Sandbox() as sb:
        sb.add_observer(observe)
        _twilio_scenario(sb.http_url)
        _line_scenario(sb.http_url)
        _line_reply_scenario(sb)
        _fault_scenario(sb)
        yield records


def test_every_provider_route_exists_in_its_spec(sandbox_server: Sandbox) -> None:
    for method, route in sandbox_server.router.templates:
        provider = provider_of(route)
        if provider is None:
            continue  # /sandbox/... is ours; X publishes no OpenAPI document we ship
        assert method.lower() in load_spec(provider)["paths"].get(route, {}), (
            f"{method} {route} not in {provider} spec"
        )


def test_scenario_reaches_every_provider_route(recorded: list[Record], sandbox_server: Sandbox) -> None:
    served = {(m, r) for m, r in sandbox_server.router.templates if provider_of(r)}
    assert served - {(r.method, r.route) for r in recorded} == set()


def test_every_response_matches_the_contract(recorded: list[Record]) -> None:
    statuses = {(r.provider, r.status) for r in recorded}
    assert {("twilio", s) for s in (200, 201, 400, 401, 404, 429, 500)} <= statuses
    assert {("line", s) for s in (200, 202, 400, 401, 404, 409, 429, 500)} <= statuses
    failures = []
    for record in recorded:
        try:
            check_response(record.provider, record.route, record.method, record.status, record.body)
        except ContractError as exc:
            failures.append(str(exc))
    assert failures == []


def test_line_responses_carry_request_ids(recorded: list[Record]) -> None:
    for record in recorded:
        if record.provider == "line":
            assert "x-line-request-id" in dict((k.lower(), v) for k, v in record.headers.items())
            if record.status == 409:
                assert "x-line-accepted-request-id" in record.headers


def _first(recorded: list[Record], provider: str, route_end: str, method: str, status: int) -> Record:
    return next(
        r
        for r in recorded
        if (r.provider, r.method, r.status) == (provider, method, status) and r.route.endswith(route_end)
    )


@pytest.mark.parametrize(
    "mutate",
    [
        lambda body: body.update(bogus="x"),
        lambda body: body.update(num_segments=1),
        lambda body: body.update(status="sending-ish"),
        lambda body: body.pop("date_created"),
        lambda body: body.update(sid="XX" + "0" * 32),
    ],
)
def test_drifted_twilio_bodies_are_caught(recorded: list[Record], mutate: Any) -> None:
    record = _first(recorded, "twilio", "/Messages.json", "POST", 201)
    body = copy.deepcopy(record.body)
    check_response("twilio", record.route, "POST", 201, body)
    mutate(body)
    with pytest.raises(ContractError):
        check_response("twilio", record.route, "POST", 201, body)


@pytest.mark.parametrize(
    ("route_end", "method", "status", "mutate"),
    [
        ("/push", "POST", 200, lambda body: body.update(sentMessages=[])),
        ("/push", "POST", 200, lambda body: body["sentMessages"][0].pop("id")),
        ("/quota", "GET", 200, lambda body: body.update(type="unlimited")),
        ("/push", "POST", 409, lambda body: body.update(error="camelCase drift")),
    ],
)
def test_drifted_line_bodies_are_caught(
    recorded: list[Record], route_end: str, method: str, status: int, mutate: Any
) -> None:
    record = _first(recorded, "line", route_end, method, status)
    body = copy.deepcopy(record.body)
    mutate(body)
    with pytest.raises(ContractError):
        check_response("line", record.route, method, status, body)


def test_undocumented_success_status_is_caught() -> None:
    with pytest.raises(ContractError, match="does not list"):
        check_response("line", "/v2/bot/message/narrowcast", "POST", 200, {})
    with pytest.raises(ContractError, match="not in the twilio spec"):
        check_response("twilio", "/2010-04-01/Accounts/{AccountSid}/Texts.json", "POST", 201, {})
