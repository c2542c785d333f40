"""`hub send --question … --choice …`: the same question, checked the same way as the API's."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from hub.models import Message
from hub.runtime import Runtime
from tests.api.support import seed
from tests.core.test_cli import _invoke


def test_send_asks_a_question_and_refuses_one_it_cannot_ask(app: Flask, runtime: Runtime) -> None:
    seed(app, residents=0, staff=0)
    base = ["send", "--title", "避難状況の確認", "--body", "避難指示を発令しています。", "--channels", "sms,line",
            "--audience", "residents", "--mode", "exercise", "--question", "避難していますか"]
    code, out, _ = _invoke(app, *base, "--choice", "はい")
    assert code != 0 and "--question/--choice: 選択肢は2〜9個です" in out
    code, out, _ = _invoke(app, *base, "--choice", "はい", "--choice", "いいえ", "--json")
    assert code == 0, out
    with runtime.session() as s:
        (message,) = s.scalars(select(Message))
        assert [c["label"] for c in message.meta["question"]["choices"]] == ["はい", "いいえ"]
