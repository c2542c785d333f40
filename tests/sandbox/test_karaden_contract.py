"""The Karaden emulator against the schema written from Karaden's public documentation.

A scenario drives every Karaden route through the official SDK (success, validation, auth, version,
not found, rate limit, server error, cancel) plus the raw wire where the SDK would refuse to send;
every JSON answer is recorded and validated (schema and exact keys), the delivery-result callback
body too, and a mutation shows the check fails on drift.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import jsonschema
import pytest
import requests

from sandbox import SANDBOX_KARADEN_API_TOKEN, SANDBOX_KARADEN_TENANT_ID, Sandbox
from sandbox.server import Request, Response
from tests.sandbox.contract_check import ContractError, check_keys, check_response, load_spec, to_json_schema

MOBILE = "09012345678"
TAG = "hub-d7"


@dataclass
class Record:
    method: str
    route: str  # as in the spec (the server URL ends in /api)
    status: int
    body: Any


class _Catcher(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _Catcher.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _options(url: str, token: str = SANDBOX_KARADEN_API_TOKEN) -> Any:
    import karaden  # noqa: F401
    from karaden.request_options import RequestOptions

    return (RequestOptions.new_builder().with_api_base(f"{url}/api").with_api_key(token)
            .with_tenant_id(SANDBOX_KARADEN_TENANT_ID).with_api_version("2024-03-01")
            .with_connection_timeout(5).with_read_timeout(5).build())


def _scenario(sb: Sandbox) -> None:
    from karaden.exception.karaden_exception import KaradenException
    from karaden.model.message import Message
    from karaden.param.message_cancel_params import MessageCancelParams
    from karaden.param.message_create_params import MessageCreateParams
    from karaden.param.message_detail_params import MessageDetailParams
    from karaden.param.message_list_params import MessageListParams

    url, options = sb.http_url, _options(sb.http_url)
    sent = Message.create(MessageCreateParams(1, MOBILE, "【訓練】避難指示", tags=[TAG]), options)
    Message.detail(MessageDetailParams(sent.id), options)
    Message.list(MessageListParams(tag=TAG, to=MOBILE), options)
    Message.cancel(MessageCancelParams(sent.id), options)  # still 送信待ち: callbacks are delayed
    failing = [
        lambda: Message.cancel(MessageCancelParams(sent.id), options),  # no longer waiting
        lambda: Message.create(MessageCreateParams(1, "0312345678", "固定電話"), options),
        lambda: Message.create(MessageCreateParams(1, MOBILE, "あ" * 661), options),
        lambda: Message.detail(MessageDetailParams("00000000-0000-4000-8000-000000000000"), options),
        lambda: Message.list(MessageListParams(per_page=0), options),
        lambda: Message.list(MessageListParams(), _options(url, "wrong-token")),
    ]
    for call in failing:
        with pytest.raises(KaradenException):
            call()
    for kind in ("429", "500"):
        sb.inject_fault("karaden", kind, match=MOBILE)
        with pytest.raises(KaradenException):
            Message.create(MessageCreateParams(1, MOBILE, "障害"), options)
    # The SDK always sends a version: without one, Karaden refuses.
    raw = requests.post(f"{url}/api/{SANDBOX_KARADEN_TENANT_ID}/messages", timeout=5,
                        headers={"Authorization": f"Bearer {SANDBOX_KARADEN_API_TOKEN}"},
                        data={"service_id": 1, "to": MOBILE, "body": "x"})
    assert raw.status_code == 400


@pytest.fixture(scope="module")
def callbacks() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Catcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callbacks/karaden/secret"
    server.shutdown()


@pytest.fixture(scope="module")
def run(callbacks: str) -> Iterator[tuple[list[Record], Sandbox]]:
    records: list[Record] = []

    def observe(request: Request, response: Response) -> None:
        if request.route.startswith("/api/"):
            records.append(Record(request.method, request.route.removeprefix("/api"), response.status,
                                  json.loads(response.body) if response.body else None))

    _Catcher.received = []
    with Sandbox(callback_delay=0.3, karaden_callback_url=callbacks) as sb:
        sb.add_observer(observe)
        _scenario(sb)
        from karaden.model.message import Message
        from karaden.param.message_create_params import MessageCreateParams

        Message.create(MessageCreateParams(1, "08011112222", "届く通知", tags=["hub-d8"]), _options(sb.http_url))
        assert sb.wait_idle(10)
        yield records, sb


def test_every_karaden_route_is_in_the_schema_and_reached(run: tuple[list[Record], Sandbox]) -> None:
    records, sb = run
    spec_paths = load_spec("karaden")["paths"]
    served = {(m, r.removeprefix("/api")) for m, r in sb.router.templates if r.startswith("/api/")}
    for method, route in served:
        assert method.lower() in spec_paths.get(route, {}), f"{method} {route} not in the Karaden schema"
    assert served - {(r.method, r.route) for r in records} == set(), "the scenario misses a route"


def test_every_karaden_answer_matches_the_schema(run: tuple[list[Record], Sandbox]) -> None:
    records, _ = run
    assert {200, 400, 401, 404, 422, 429, 500} <= {r.status for r in records}
    failures = []
    for r in records:
        try:
            check_response("karaden", r.route, r.method, r.status, r.body)
        except ContractError as exc:
            failures.append(str(exc))
    assert failures == []


def test_delivery_result_callback_matches_the_schema(run: tuple[list[Record], Sandbox]) -> None:
    spec = load_spec("karaden")
    schema = to_json_schema({"$ref": "#/components/schemas/DeliveryResult"}, spec)
    message = to_json_schema({"$ref": "#/components/schemas/Message"}, spec)
    bodies = [(headers, json.loads(raw)) for headers, raw in _Catcher.received]
    assert [b["tags"] for _, b in bodies] == [["hub-d8"]], "one callback, for the message not canceled"
    headers, body = bodies[0]
    assert headers.get("Karaden-Version") and headers.get("Content-Type", "").startswith("application/json")
    jsonschema.Draft4Validator(schema).validate(body)
    check_keys({"properties": {**message["properties"], "project_id": {}}}, body, exact=True)
    assert (body["status"], body["sent_result"]) == ("done", "received")


@pytest.mark.parametrize("mutate", [
    lambda b: b.update(message_id=b.pop("id")),  # a renamed key
    lambda b: b.update(status="sent"),  # Twilio's word, not Karaden's
    lambda b: b.pop("sent_result"),  # a documented key missing
])
def test_drifted_karaden_bodies_are_caught(run: tuple[list[Record], Sandbox], mutate: Any) -> None:
    records, _ = run
    good = next(r for r in records if r.status == 200 and r.method == "POST" and r.route.endswith("/messages"))
    body = json.loads(json.dumps(good.body))
    mutate(body)
    with pytest.raises(ContractError):
        check_response("karaden", good.route, good.method, good.status, body)
