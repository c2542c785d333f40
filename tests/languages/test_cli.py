"""`hub send --translate`: the audience's languages machine-translated, a failure said and sent anyway."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from hub.models import Message
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import seed
from tests.core.test_cli import _invoke
from tests.languages.support import three_languages


def test_send_translates_for_the_audience_and_says_what_failed(
        app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    seed(app, residents=0, staff=0)
    town = three_languages(runtime)
    sandbox_client.inject_fault("translate", "500", count=0, match="vi")
    code, out, _ = _invoke(app, "send", "--title", "大雨警報が発表されました", "--body", "川に近づかないでください。",
                           "--channels", "sms,line", "--audience", town.audience, "--mode", "exercise",
                           "--translate", "--language", "ko", "--json")
    assert code == 0, out
    with runtime.session() as s:
        message = s.scalars(select(Message).order_by(Message.id.desc())).first()
        assert message is not None
        languages = (message.meta or {})["languages"]
    assert {c: v["origin"] for c, v in languages.items()} == {"en": "machine", "ko": "machine", "vi": "fallback"}
    code, out, _ = _invoke(app, "send", "--title", "t", "--channels", "sms", "--audience", town.audience,
                           "--mode", "exercise", "--translate", "--language", "xx")
    assert code != 0 and "--language" in out
