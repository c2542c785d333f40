"""POST /api/v1/easy-japanese/check: the composer's やさしい日本語 findings, as documented in OpenAPI."""

from __future__ import annotations

from flask.testing import FlaskClient
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder, TestResponse

from tests.api.support import bearer
from tests.support.openapi import hub_api

URL = "/api/v1/easy-japanese/check"


def _valid(response: TestResponse) -> None:
    route = EnvironBuilder(method="POST", path=URL).get_request()
    hub_api().validate_response(WerkzeugOpenAPIRequest(route), WerkzeugOpenAPIResponse(response))


def test_findings_come_with_positions_and_japanese_explanations(client: FlaskClient) -> None:
    text = "速やかに指定緊急避難場所へ避難されるようお願い申し上げます。"
    response = client.post(URL, json={"text": text}, headers=bearer("viewer"))

    assert response.status_code == 200
    _valid(response)
    report = response.get_json()
    assert report["clean"] is False
    hard = [text[f["start"]:f["end"]] for f in report["findings"] if f["rule"] == "hard_kanji"]
    assert hard == ["緊", "願"]
    assert any(f["rule"] == "humble" and "謙譲語" in f["message"] for f in report["findings"])


def test_a_clean_text_and_a_template(client: FlaskClient) -> None:
    clean = client.post(URL, json={"text": "大きい 地震が ありました。"}, headers=bearer())
    template = client.post(URL, json={"text": "{{ area_names | areas(5) }}に 出ました。", "template": True},
                           headers=bearer())

    assert clean.get_json() == {"clean": True, "max_sentence": 40, "findings": []}
    assert template.get_json()["clean"] is True
    _valid(clean)


def test_bad_requests_are_4xx(client: FlaskClient) -> None:
    assert client.post(URL, json={"text": "あ"}).status_code == 401
    for body in ({}, {"text": 3}, {"text": "あ" * 10_001}, {"text": "あ", "template": "yes"}):
        response = client.post(URL, json=body, headers=bearer())
        assert response.status_code == 400, body
        _valid(response)
    assert client.post(URL, data="text", headers=bearer(**{"Content-Type": "text/plain"})).status_code == 400


def test_the_composer_preview_shows_what_makes_a_plain_japanese_text_hard(client: FlaskClient) -> None:
    """The person writing the やさしい日本語 text sees the findings beside it; other languages get none."""
    texts = {"ja-easy": {"title": "じしん", "body": "速やかに避難されるようお願い申し上げます。"},
             "en": {"title": "Earthquake", "body": "Evacuate now."}}
    r = client.post("/api/v1/messages/preview", headers=bearer(), json={
        "title": "地震", "body": "避難してください。", "channels": ["sms"], "mode": "exercise", "audience": "staff",
        "texts": texts})

    assert r.status_code == 200, r.get_json()
    languages = r.get_json()["languages"]
    rules = {f["rule"] for f in languages["ja-easy"]["findings"]}
    assert "humble" in rules
    assert "findings" not in languages["en"]
