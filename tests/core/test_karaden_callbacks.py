"""Karaden's delivery-result callbacks settle rows; forged or malformed ones change nothing (4xx)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests

from hub.config import ConfigError, Settings
from hub.models import Contact, Department
from hub.runtime import Runtime
from sandbox import SANDBOX_KARADEN_CALLBACK_SECRET, Sandbox, SandboxClient
from tests.support.hubtools import rows, send, wait_for

PHONES = ["+819040000001", "+819040000002"]


@pytest.fixture
def karaden_city(runtime: Runtime, sandbox_client: SandboxClient) -> Iterator[int]:
    url = f"{runtime.settings.public_url}/callbacks/karaden/{SANDBOX_KARADEN_CALLBACK_SECRET}"
    sandbox_client.set_karaden_callback_url(url)
    with runtime.session() as session:
        session.add_all(Contact(kind="staff", name=f"職員{i}", phone=p) for i, p in enumerate(PHONES))
        dept = Department(code="karaden", name="防災課", sms_gateway="karaden")
        session.add(dept)
        session.flush()
        dept_id = dept.id
    yield dept_id
    sandbox_client.set_karaden_callback_url(None)


def test_delivery_results_from_karaden_settle_the_rows(
    runtime: Runtime, karaden_city: int, sandbox: Sandbox, sandbox_client: SandboxClient
) -> None:
    sandbox_client.inject_fault("karaden", "undelivered", match=PHONES[1][-8:])
    message_id = send(runtime, channels=["sms"], department_id=karaden_city)
    assert sandbox.wait_idle(10)

    def settled() -> bool:
        return {r.state for r in rows(runtime, message_id, "sms")} <= {"delivered", "failed"}

    wait_for(settled, timeout=10)
    final = {r.address: r for r in rows(runtime, message_id, "sms")}
    assert (final[PHONES[0]].state, final[PHONES[0]].provider_status) == ("delivered", "done/received")
    assert (final[PHONES[1]].state, final[PHONES[1]].error_code) == ("failed", "unconnected")
    assert sandbox_client.stats().get("karaden.callbacks.sent") == 2


def _post(runtime: Runtime, secret: str, body: bytes) -> int:
    return requests.post(f"{runtime.settings.public_url}/callbacks/karaden/{secret}", data=body, timeout=5,
                         headers={"Content-Type": "application/json", "Karaden-Version": "2023-01-01"}).status_code


def test_forged_or_malformed_callbacks_are_refused_and_change_nothing(
    runtime: Runtime, karaden_city: int, sandbox_client: SandboxClient
) -> None:
    sandbox_client.set_karaden_callback_url(None)  # nothing from the sandbox: only our own posts
    message_id = send(runtime, channels=["sms"], department_id=karaden_city)
    row = rows(runtime, message_id, "sms")[0]
    assert row.state == "sent"
    forged = json.dumps({"id": row.provider_id, "object": "message", "tags": [f"hub-d{row.id}"],
                         "status": "done", "sent_result": "unconnected"}).encode()
    assert _post(runtime, "guessed-secret", forged) == 403
    assert _post(runtime, SANDBOX_KARADEN_CALLBACK_SECRET, b"{not json") == 400
    assert _post(runtime, SANDBOX_KARADEN_CALLBACK_SECRET, json.dumps({"object": "message"}).encode()) == 400
    assert rows(runtime, message_id, "sms")[0].state == "sent", "nothing refused changed the row"
    assert _post(runtime, SANDBOX_KARADEN_CALLBACK_SECRET, forged) == 204
    assert rows(runtime, message_id, "sms")[0].state == "failed"


def test_production_refuses_published_or_missing_karaden_secrets(settings: Settings) -> None:
    live = replace(settings, env="production", secret_key="k" * 48, allow_sandbox=True, karaden_base_url="")
    with pytest.raises(ConfigError, match="公開されているサンドボックスの認証情報"):
        live.check_startup(["sms"])
    with pytest.raises(ConfigError, match="HUB_KARADEN_CALLBACK_SECRET"):
        replace(live, karaden_api_token="real-token", karaden_callback_secret="").check_startup(["sms"])
    assert replace(settings, karaden_base_url="").uses_sandbox("sms"), \
        "Twilio through the sandbox is still not live, whatever Karaden is"
    assert not replace(settings, twilio_base_url="", karaden_base_url="",
                       karaden_api_token="t", karaden_callback_secret="s").uses_sandbox("sms")
