"""The operator's side: the composer's survey section through confirmation to the stored question,
and the message page's live tally with who has not answered."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import Message
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import bearer, csrf, login
from tests.surveys.support import HANAMAKI, OSHU, add_residents, line_id, press, send_survey, sms_reply


def _form(**fields: str) -> dict[str, object]:
    return {"title": "避難状況の確認", "body": "避難指示を発令しています。", "channels": ["sms", "line", "voice"],
            "audience": "residents", "mode": "exercise", "msg_type": "alert", **fields}


def test_the_composer_asks_a_question_confirms_it_and_stores_it(client: FlaskClient, runtime: Runtime) -> None:
    login(client, "admin")
    assert "住民アンケート（任意）" in client.get("/compose").get_data(as_text=True)
    survey = {"question_text": "避難していますか", "question_choices": "はい\n\nいいえ\n"}
    bad = client.post("/compose", data={**_form(question_text="避難していますか", question_choices="はい"),
                                        "csrf_token": csrf(client), "step": "confirm"})
    assert bad.status_code == 422 and "選択肢は2〜9個です" in bad.get_data(as_text=True)
    confirm = client.post("/compose", data={**_form(**survey), "csrf_token": csrf(client), "step": "confirm"})
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and 'id="survey-confirm"' in page
    assert "1:はい 2:いいえ を返信してください" in page  # the SMS preview, with what it costs
    assert 'name="question_choices" value="はい' in page  # carried to the send step
    sent = client.post("/compose", data={**_form(**survey), "csrf_token": csrf(client), "step": "send"})
    assert sent.status_code == 302
    with runtime.session() as s:
        message = s.scalars(select(Message).order_by(Message.id.desc())).first()
        assert message is not None
        assert message.meta["question"] == {"text": "避難していますか", "hours": 72, "choices": [
            {"key": "1", "label": "はい"}, {"key": "2", "label": "いいえ"}]}


def test_the_message_page_shows_the_tally_and_who_has_not_answered(
    client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    add_residents(runtime, [
        {"name": "奥州 一郎", "area": OSHU, "phone": "+819033330001"},
        {"name": "花巻 二子", "area": HANAMAKI, "line": line_id(32)},
        {"name": "花巻 三郎", "area": HANAMAKI, "phone": "+819033330003"},
    ])
    message_id = send_survey(client, ["sms", "line"])
    sms_reply(runtime, "+819033330001", "2")
    press(sandbox_client, line_id(32), "はい")
    login(client, "viewer")
    page = client.get(f"/messages/{message_id}").get_data(as_text=True)
    assert 'id="survey"' in page and 'data-open="yes"' in page and "survey.js" in page
    assert '<span data-key="answered">2</span>' in page and '<span data-key="unanswered">1</span>' in page
    hanamaki = page.split('id="survey-areas"')[1].split(f'data-group="{HANAMAKI}"')[1].split("</tr>")[0]
    assert '<td data-key="answered">1</td>' in hanamaki and '<td data-choice="1">1</td>' in hanamaki
    silent = page.split('id="survey-silent"')[1].split("</ul>")[0]
    assert "花巻 三郎" in silent and "奥州 一郎" not in silent
    assert f"/api/v1/messages/{message_id}/survey.csv?status=unanswered" in page
    english = client.get(f"/messages/{message_id}?lang=en").get_data(as_text=True)
    assert "Resident survey" in english and "Not answered" in english
    assert 'id="survey-close"' not in page, "a viewer cannot close it"
    assert client.post(f"/api/v1/messages/{message_id}/survey/close", headers=bearer("viewer")).status_code == 403

    login(client, "admin")
    closing = client.post(f"/messages/{message_id}/survey/close", data={"csrf_token": csrf(client)})
    assert closing.status_code == 302, closing.get_data(as_text=True)[:300]
    closed = client.get(f"/messages/{message_id}").get_data(as_text=True)  # still in English (the cookie)
    assert 'data-open="no"' in closed and 'id="survey-close"' not in closed and "The survey no longer takes answers" in closed
    assert sms_reply(runtime, "+819033330003", "1") is None, "closed: the reply is for nobody"
    again = client.post(f"/api/v1/messages/{message_id}/survey/close", headers=bearer())
    assert again.status_code == 409
    plain_id = send_survey(client, ["sms"], question={})
    assert 'id="survey"' not in client.get(f"/messages/{plain_id}").get_data(as_text=True)
