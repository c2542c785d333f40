"""Acceptance: a resident survey sent by SMS and LINE to residents of two areas, answered by SMS
reply (Twilio's signed incoming-message webhook) and by LINE button (LINE's signed webhook), tallied
by area and category, in the CSV, and the residents it reached who have not answered are known.
Through the sandbox and the official SDKs.
"""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import AuditLog
from hub.models.resident_answers import ResidentAnswer
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import bearer, body
from tests.support.hubtools import rows
from tests.surveys.support import (
    HANAMAKI,
    OSHU,
    add_residents,
    line_id,
    press,
    send_survey,
    sms_reply,
    tally,
    text_hub,
)


def _town(runtime: Runtime) -> None:
    add_residents(runtime, [
        {"name": "奥州 一郎", "area": OSHU, "phone": "+819011110001", "line": line_id(1)},
        {"name": "奥州 二郎", "area": OSHU, "phone": "+819011110002"},
        {"name": "奥州 六子", "area": OSHU, "line": line_id(6)},
        {"name": "花巻 三子", "area": HANAMAKI, "line": line_id(3), "categories": ["bousai", "kenko"]},
        {"name": "花巻 四郎", "area": HANAMAKI, "phone": "+819011110004", "line": line_id(4)},
        {"name": "花巻 五郎", "area": HANAMAKI, "phone": "+819011110005"},
    ])


def test_survey_by_sms_and_line_is_tallied_by_area_with_csv_and_non_responders(
    client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    _town(runtime)
    message_id = send_survey(client, ["sms", "line"])
    assert {r.state for r in rows(runtime, message_id)} <= {"sent", "delivered"}
    sms = sandbox_client.inbox("sms", to="+819011110002")
    assert len(sms) == 1 and "避難していますか\n1:はい 2:いいえ を返信してください\nhttp" in sms[0]["text"]

    # SMS replies to the department's number: Twilio's signed incoming-message webhook, TwiML back.
    assert text_hub(sandbox_client, "+819011110001", "1") == ["回答を受け付けました（1:はい）。ありがとうございました。"]
    assert text_hub(sandbox_client, "+819011110002", "いいえ") == [
        "回答を受け付けました（2:いいえ）。ありがとうございました。"]
    assert text_hub(sandbox_client, "+819011110004", "たぶん") == ["1〜2 の数字で返信してください（1:はい 2:いいえ）"]
    assert text_hub(sandbox_client, "+819099999999", "1") == [], "a number the survey did not reach"
    # reply_for is what the route hands every other text to (the handler is registered there).
    assert sms_reply(runtime, "+819011110004", "3") == "1〜2 の数字で返信してください（1:はい 2:いいえ）"
    # LINE buttons, through a webhook the sandbox signs as LINE does.
    press(sandbox_client, line_id(3), "はい")
    press(sandbox_client, line_id(4), "はい")
    press(sandbox_client, line_id(1), "いいえ")  # 一郎 changes his mind: the later answer counts
    press(sandbox_client, line_id(1), "いいえ")  # a double tap changes nothing

    t = tally(client, message_id)
    assert (t["reached"], t["answered"], t["unanswered"], t["open"]) == (6, 4, 2, True)
    assert [(c["label"], c["count"]) for c in t["choices"]] == [("はい", 2), ("いいえ", 2)]
    assert t["channels"] == {"sms": 1, "line": 3}
    by_area = {a["name"]: (a["reached"], a["answered"], a["unanswered"], a["counts"]) for a in t["areas"]}
    assert by_area == {"奥州市": (3, 2, 1, {"1": 0, "2": 2}), "花巻市": (3, 2, 1, {"1": 2, "2": 0})}
    by_category = {c["name"]: (c["answered"], c["counts"]) for c in t["categories"]}
    assert by_category == {"防災": (4, {"1": 2, "2": 2}), "健康": (1, {"1": 1, "2": 0})}

    silent = client.get(f"/api/v1/messages/{message_id}/survey/respondents?status=unanswered", headers=bearer())
    assert sorted(r["name"] for r in body(silent)["items"]) == ["奥州 六子", "花巻 五郎"]
    paged = body(client.get(f"/api/v1/messages/{message_id}/survey/respondents?per_page=4&page=2",
                            headers=bearer()))
    assert (paged["total"], len(paged["items"])) == (6, 2)

    exported = client.get(f"/api/v1/messages/{message_id}/survey.csv", headers=bearer())
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    answers = {r["氏名"]: (r["地域"], r["回答"], r["回答経路"]) for r in table}
    assert answers == {
        "奥州 一郎": ("奥州市", "いいえ", "LINE"), "奥州 二郎": ("奥州市", "いいえ", "SMS"),
        "奥州 六子": ("奥州市", "未回答", ""), "花巻 三子": ("花巻市", "はい", "LINE"),
        "花巻 四郎": ("花巻市", "はい", "LINE"), "花巻 五郎": ("花巻市", "未回答", ""),
    }
    only_silent = client.get(f"/api/v1/messages/{message_id}/survey.csv?status=unanswered", headers=bearer())
    assert only_silent.get_data(as_text=True).count("未回答") == 2

    with runtime.session() as s:
        ichiro = s.scalars(select(ResidentAnswer).where(ResidentAnswer.choice_key == "2",
                                                         ResidentAnswer.channel == "line")).one()
        assert ichiro.changes == 1 and ichiro.first_answered_at < ichiro.answered_at
        history = [a.detail for a in s.scalars(select(AuditLog).where(AuditLog.action == "survey.answer")
                                                .order_by(AuditLog.id))]
    assert len(history) == 5  # four answers and one change; neither the double tap nor 「たぶん」
    assert {"choice": "2", "previous": "1", "channel": "line"}.items() <= history[-1].items()


def test_a_resident_of_two_areas_counts_in_both_and_one_of_none_under_none(
    client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    add_residents(runtime, [
        {"name": "両方", "areas": [OSHU, HANAMAKI], "phone": "+819044440001"},
        {"name": "どこでもない", "areas": [], "categories": [], "phone": "+819044440002"},
    ])
    message_id = send_survey(client, ["sms"])
    assert text_hub(sandbox_client, "+819044440001", "1")
    t = tally(client, message_id)
    assert (t["reached"], t["answered"], t["unanswered"]) == (2, 1, 1)
    rows_of = {g["name"]: (g["code"], g["reached"], g["answered"], g["unanswered"], g["counts"]) for g in t["areas"]}
    assert rows_of == {"奥州市": (OSHU, 1, 1, 0, {"1": 1, "2": 0}), "花巻市": (HANAMAKI, 1, 1, 0, {"1": 1, "2": 0}),
                       "（なし）": (None, 1, 0, 1, {"1": 0, "2": 0})}
    assert [(g["name"], g["unanswered"]) for g in t["areas"]][-1] == ("（なし）", 1), "none comes last"
    assert {g["name"]: g["answered"] for g in t["categories"]} == {"防災": 1, "（なし）": 0}



def test_a_cancelled_survey_takes_no_more_answers(
    client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    """取消 of the message calls the question off too: a late reply is not counted as if it still stood."""
    _town(runtime)
    message_id = send_survey(client, ["sms", "line"])
    assert text_hub(sandbox_client, "+819011110001", "1") == ["回答を受け付けました（1:はい）。ありがとうございました。"]

    cancel = client.post("/api/v1/messages", headers=bearer(),
                         json={"msg_type": "cancel", "references": message_id})
    assert cancel.status_code == 201, cancel.get_json()

    assert text_hub(sandbox_client, "+819011110002", "2") == []
    with runtime.session() as session:
        assert session.scalars(select(ResidentAnswer.choice_key)).all() == ["1"]
        closed = session.scalars(select(AuditLog).where(AuditLog.action == "survey.close")).all()
        assert len(closed) == 1 and closed[0].detail.get("reason") == "取消"


def test_an_answer_whose_message_later_failed_still_counts_as_an_answer_not_as_reached(
    client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    """The carrier's late 'failed' after the resident had already answered (or a bounce after the
    answer page was used): the answer stands; they are no longer among those it reached."""
    from sqlalchemy import update

    from hub.models import Delivery

    add_residents(runtime, [{"name": "答えた", "area": OSHU, "phone": "+819066660001"},
                            {"name": "未回答", "area": OSHU, "phone": "+819066660002"}])
    message_id = send_survey(client, ["sms"])
    assert text_hub(sandbox_client, "+819066660001", "2")
    with runtime.session() as s:
        s.execute(update(Delivery).where(Delivery.message_id == message_id, Delivery.address == "+819066660001")
                  .values(state="failed"))
    t = tally(client, message_id)
    assert (t["reached"], t["answered"], t["unanswered"]) == (1, 1, 1)
    assert [(c["key"], c["count"]) for c in t["choices"]] == [("1", 0), ("2", 1)]
    assert [(a["name"], a["reached"], a["answered"], a["unanswered"], a["counts"]) for a in t["areas"]] == [
        ("奥州市", 1, 1, 1, {"1": 0, "2": 1})]
