"""Signed provider posts only: a forged LINE postback, Gather or call status is refused and changes
nothing; answer links cannot be altered and expire."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import replace
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from hub.app import create_app
from hub.config import DEFAULT_SECRET_KEY
from hub.models.relay import CalloutTarget, SurveyAnswer
from hub.relay.callouts import close_callout
from hub.relay.clock import ManualClock
from hub.relay.links import AnswerLink, make_token
from hub.runtime import Runtime
from sandbox import SANDBOX_LINE_CHANNEL_SECRET, SANDBOX_TWILIO_AUTH_TOKEN, SandboxClient
from sandbox.staff import postback_choices
from tests.relay.support import answers, attempts, seed_staff, start, tick


def _line_post(app: Flask, user: str, data: str, secret: str) -> int:
    # Every event LINE sends has an id of its own (the hub applies each id once).
    body = json.dumps({"destination": "U" + "0" * 32, "events": [{
        "type": "postback", "mode": "active", "timestamp": 1700000000000, "webhookEventId": uuid.uuid4().hex,
        "deliveryContext": {"isRedelivery": False}, "replyToken": "0f3779fba3b349968c5d07db31eab56f",
        "source": {"type": "user", "userId": user}, "postback": {"data": data}}]})
    signature = base64.b64encode(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()).decode()
    return app.test_client().post("/callbacks/line/webhook", data=body, content_type="application/json",
                                  headers={"X-Line-Signature": signature}).status_code


def _state(runtime: Runtime) -> tuple[Any, ...]:
    with runtime.session() as s:
        t = s.query(CalloutTarget).one()
        return t.state, t.answered_at, t.step_index, t.next_step_at, t.active_task_id


def test_forged_line_postback_is_rejected_and_changes_nothing(
    app: Flask, runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    assert person.line
    callout_id = start(runtime, interval="5m", cycles=1)
    data = postback_choices(sandbox_client.inbox("line", to=person.line)[0])[0]
    before = _state(runtime)
    assert _line_post(app, person.line, data, "not-the-channel-secret") == 403
    assert answers(runtime, callout_id) == [] and _state(runtime) == before
    # Correctly signed but from somebody who is not in the call-out: ignored as well.
    assert _line_post(app, "U" + "f" * 32, data, SANDBOX_LINE_CHANNEL_SECRET) == 200
    assert answers(runtime, callout_id) == [] and _state(runtime) == before
    clock.advance(minutes=5)
    tick(runtime)
    assert len(sandbox_client.inbox("voice", to=person.phone)) == 1, "the chain went on"
    # The genuine postback, signed with the channel secret, is accepted.
    assert _line_post(app, person.line, data, SANDBOX_LINE_CHANNEL_SECRET) == 200
    assert len(answers(runtime, callout_id)) == 1


def _voice_attempt(runtime: Runtime, clock: ManualClock, callout_id: int) -> int:
    clock.advance(minutes=5)
    tick(runtime)
    return next(a.id for a in attempts(runtime, callout_id) if a.channel == "voice")


def test_forged_gather_post_is_rejected_and_records_no_answer(
    app: Flask, runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    seed_staff(runtime, 1)
    callout_id = start(runtime, interval="5m", cycles=1)
    attempt_id = _voice_attempt(runtime, clock, callout_id)
    path = f"/relay/voice/gather/{attempt_id}"
    form = {"CallSid": "CA" + "0" * 32, "Digits": "1", "To": "+819010000000"}
    client = app.test_client()
    assert client.post(path, data=form).status_code == 403
    assert client.post(path, data=form, headers={"X-Twilio-Signature": "forged"}).status_code == 403
    url = runtime.settings.public_url + path
    wrong_key = RequestValidator("someone-elses-token").compute_signature(url, form)
    assert client.post(path, data=form, headers={"X-Twilio-Signature": wrong_key}).status_code == 403
    assert answers(runtime, callout_id) == []
    genuine = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN).compute_signature(url, form)
    reply = client.post(path, data=form, headers={"X-Twilio-Signature": genuine})
    assert reply.status_code == 200 and reply.mimetype == "text/xml"
    assert [(a.question_key, a.value) for a in answers(runtime, callout_id)] == [("safety", "safe")]


def test_forged_call_status_is_rejected_and_does_not_advance_the_chain(
    app: Flask, runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    seed_staff(runtime, 1)
    callout_id = start(runtime, interval="5m", cycles=1)
    attempt_id = _voice_attempt(runtime, clock, callout_id)
    sandbox_client.clear()
    before = _state(runtime)
    form = {"CallSid": "CA" + "0" * 32, "CallStatus": "no-answer"}
    response = app.test_client().post(f"/relay/voice/status/{attempt_id}", data=form,
                                      headers={"X-Twilio-Signature": "forged"})
    assert response.status_code == 403
    assert _state(runtime) == before
    assert [a.state for a in attempts(runtime, callout_id)] == ["sent", "sent"]
    assert not sandbox_client.inbox("email")


def test_answer_links_cannot_be_altered_and_expire(
    app: Flask, runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    start(runtime, interval="1m", cycles=1)
    for _ in range(3):
        clock.advance(60)
        tick(runtime)
    match = re.search(r"/relay/a/(\S+)", sandbox_client.inbox("email", to=person.email)[0]["text"])
    assert match is not None
    token = match.group(1)
    client = app.test_client()
    assert client.get(f"/relay/a/{token}").status_code == 200
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.get(f"/relay/a/{tampered}").status_code == 404
    clock.advance(hours=runtime.settings.relay_link_max_age_hours + 1)
    expired = client.post(f"/relay/a/{token}", data={"q_safety": "safe"})
    assert expired.status_code == 410 and "有効期限" in expired.get_data(as_text=True)


def test_answer_links_end_with_the_call_out_and_need_the_hubs_own_key(
    app: Flask, runtime: Runtime, clock: ManualClock
) -> None:
    seed_staff(runtime, 1)
    callout_id = start(runtime, interval="1m", cycles=1)
    with runtime.session() as s:
        target_id = s.scalars(select(CalloutTarget.id).where(CalloutTarget.callout_id == callout_id)).one()
    link = AnswerLink(callout_id, target_id, "email")
    own = replace(runtime.settings, secret_key="k" * 48)  # a hub with a key of its own, as production requires
    client = create_app(own).test_client()
    token = make_token(own, link, clock.now())
    assert client.get(f"/relay/a/{token}").status_code == 200
    for key in (DEFAULT_SECRET_KEY, "another-hubs-key-" + "x" * 32):  # the published default, or any other
        forged = make_token(replace(own, secret_key=key), link, clock.now())
        assert client.get(f"/relay/a/{forged}").status_code == 404
    with runtime.session() as s:
        close_callout(s, callout_id, actor="test")
    ended = client.post(f"/relay/a/{token}", data={"q_safety": "safe"})
    assert ended.status_code == 410 and "終了しました" in ended.get_data(as_text=True)
    assert client.get(f"/relay/a/{token}").status_code == 410
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(SurveyAnswer)) == 0, "nothing recorded"
