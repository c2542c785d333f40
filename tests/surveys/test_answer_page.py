"""The signed answer page of a survey's e-mail, and what no path accepts: a forged or foreign link,
a form without the CSRF token, an answer after the survey closed, a button from someone it did not reach."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models.resident_answers import ResidentAnswer
from hub.residents.links import PREFERENCES, ResidentLink, url_for
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import csrf
from tests.surveys.support import (
    HANAMAKI,
    OSHU,
    add_residents,
    close_now,
    line_id,
    press,
    say_on_line,
    send_survey,
    sms_reply,
)

LINK = re.compile(r"回答はこちら: (https?://\S+)")


def _answers(runtime: Runtime) -> list[tuple[int, str, str]]:
    with runtime.session() as s:
        return [(a.contact_id, a.choice_key, a.channel) for a in s.scalars(select(ResidentAnswer))]


def test_the_email_link_opens_the_answer_page_and_records_the_answer(
    client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    people = add_residents(runtime, [{"name": "花巻 花子", "area": HANAMAKI, "email": "hanako@example.jp"}])
    message_id = send_survey(client, ["email"])
    mail = sandbox_client.inbox("email", to="hanako@example.jp")[0]
    found = LINK.search(mail["text"])
    assert found and "/r/a/" in found.group(1) and found.group(1) in (mail["html"] or "")
    path = "/r/a/" + found.group(1).rsplit("/r/a/", 1)[1]

    page = client.get(path)
    assert page.status_code == 200 and "避難していますか" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert client.post(path, data={"choice": "2"}).status_code == 400, "no CSRF token: nothing stored"
    assert client.post(path, data={"choice": "9", "csrf_token": csrf(client)}).status_code == 422
    assert _answers(runtime) == []
    saved = client.post(path, data={"choice": "2", "csrf_token": csrf(client)})
    assert saved.status_code == 200 and "回答を受け付けました" in saved.get_data(as_text=True)
    english = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Your answer" in english or "Send my answer" in english
    assert _answers(runtime) == [(people["花巻 花子"].contact_id, "2", "web")]
    again = client.post(path, data={"choice": "1", "csrf_token": csrf(client)})
    assert "回答を変更しました" in again.get_data(as_text=True)
    assert _answers(runtime) == [(people["花巻 花子"].contact_id, "1", "web")]

    close_now(runtime, message_id)
    closed = client.get(path)
    assert closed.status_code == 410 and "受付は終了しました" in closed.get_data(as_text=True)
    assert "1:はい" in closed.get_data(as_text=True)  # what they answered
    assert client.post(path, data={"choice": "2", "csrf_token": csrf(client)}).status_code == 410


def test_a_forged_or_foreign_link_is_a_404(client: FlaskClient, runtime: Runtime) -> None:
    people = add_residents(runtime, [{"name": "奥州 太郎", "area": OSHU, "email": "taro@example.jp"}])
    send_survey(client, ["email"])
    preferences = url_for(runtime.settings, ResidentLink(PREFERENCES, people["奥州 太郎"].contact_id))
    token = preferences.rsplit("/", 1)[1]
    for path in (f"/r/a/{token}", "/r/a/not-a-token", f"/r/a/{token}x", "/r/a/" + "A" * 300):
        assert client.get(path).status_code == 404, path
        assert client.post(path, data={"choice": "1"}).status_code in (400, 404), path
    assert _answers(runtime) == []


def test_answers_after_the_survey_closed_or_from_someone_it_did_not_reach_are_not_counted(
    client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    add_residents(runtime, [
        {"name": "受信者", "area": OSHU, "phone": "+819022220001", "line": line_id(21)},
        {"name": "対象外", "area": OSHU, "line": line_id(22), "categories": ["kenko"]},
    ])
    message_id = send_survey(client, ["sms", "line"], audience="category:bousai")
    # Someone the message did not reach sends the same button data (a forwarded screenshot, a guess).
    data = f"ans:{message_id}:1"
    sandbox_client.emit_line_event({"type": "postback", "postback": {"data": data},
                                    "source": {"type": "user", "userId": line_id(22)}})
    assert _answers(runtime) == []
    close_now(runtime, message_id)
    assert sms_reply(runtime, "+819022220001", "1") is None, "nothing open: the reply is for nobody"
    press(sandbox_client, line_id(21), "はい")
    assert _answers(runtime) == []


def test_a_typed_line_answer_counts_when_the_buttons_are_gone(
    client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    people = add_residents(runtime, [{"name": "入力する人", "area": OSHU, "line": line_id(41)}])
    send_survey(client, ["line"])
    say_on_line(sandbox_client, line_id(41), "こんにちは")
    assert _answers(runtime) == [], "other words are not an answer"
    say_on_line(sandbox_client, line_id(41), "２")
    assert _answers(runtime) == [(people["入力する人"].contact_id, "2", "line")]
    say_on_line(sandbox_client, line_id(42), "1")  # someone it did not reach
    assert len(_answers(runtime)) == 1

