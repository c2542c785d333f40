"""Operator pages and the public page: login, the composer in two languages, exercise vs actual."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.api.support import body, create, create_approved, csrf, login, message
from tests.support.hubtools import public_path


def _form(**fields: object) -> dict[str, object]:
    data = {k: v for k, v in message(**fields).items() if k != "overrides"}
    return data


def test_login_required_and_bad_password(client: FlaskClient) -> None:
    r = client.get("/compose")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    client.get("/login")
    bad = client.post("/login", data={"username": "admin", "password": "wrong", "csrf_token": csrf(client)})
    assert bad.status_code == 401
    # Someone else's password, and an API token in the password field, are not a login.
    wrong_user = client.post("/login", data={"username": "bousai1", "password": "demo-admin-pass",
                                             "csrf_token": csrf(client)})
    assert wrong_user.status_code == 401
    token = client.post("/login", data={"username": "admin", "password": "demo-token", "csrf_token": csrf(client)})
    assert token.status_code == 401
    assert client.post("/login", data={"username": "admin", "password": "demo-admin-pass"}).status_code == 400
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json is not None
    assert (health.json["status"], health.json["engine"]) == ("ok", "ok")


def test_composer_in_japanese_and_english(client: FlaskClient) -> None:
    assert login(client, "admin").status_code == 302
    ja = client.get("/compose").get_data(as_text=True)
    assert '<html lang="ja">' in ja and "配信モード" in ja and "訓練モード" in ja and "実配信" in ja
    for ch in ("sms", "voice", "email", "line", "x", "rss"):
        assert f'name="channels" value="{ch}"' in ja
    assert "/api/v1/messages/preview" in ja
    en = client.get("/compose?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en and "Delivery mode" in en and "EXERCISE MODE" in en
    assert "配信モード" not in en
    # The live preview reuses the API with the session, but only with the CSRF header.
    draft = {"title": "t", "channels": ["sms"], "mode": "exercise"}
    assert client.post("/api/v1/messages/preview", json=draft).status_code == 401
    with_header = client.post("/api/v1/messages/preview", json=draft,
                              headers={"X-CSRF-Token": csrf(client)})
    assert with_header.status_code == 200
    assert body(with_header)["channels"]["sms"]["text"].startswith("【訓練】")
    # The choice sticks (cookie) and Accept-Language works without it.
    assert "Delivery mode" in client.get("/compose").get_data(as_text=True)
    fresh = client.application.test_client()
    login(fresh, "admin")
    browser_en = fresh.get("/compose", headers={"Accept-Language": "en-US,en"})
    assert "Delivery mode" in browser_en.get_data(as_text=True)


def test_confirmation_wording_differs_and_actual_needs_the_tick(client: FlaskClient) -> None:
    login(client, "admin")
    token = csrf(client)
    actual = client.post("/compose", data={**_form(), "csrf_token": token, "step": "confirm"})
    drill = client.post("/compose", data={**_form(mode="exercise", audience="staff", channels=["sms", "email"]), "csrf_token": token,
                                          "step": "confirm"})
    actual_html, drill_html = actual.get_data(as_text=True), drill.get_data(as_text=True)
    assert "実配信の最終確認" in actual_html and "これは訓練ではありません" in actual_html
    assert 'name="confirm_actual"' in actual_html and "訓練モード" not in actual_html
    assert "訓練配信の確認" in drill_html and "訓練参加者 3 人だけ" in drill_html
    assert "実配信の最終確認" not in drill_html and 'name="confirm_actual"' not in drill_html

    unticked = client.post("/compose", data={**_form(), "csrf_token": token, "step": "send"})
    assert unticked.status_code == 200 and "実配信であることの確認" in unticked.get_data(as_text=True)
    sent = client.post("/compose", data={**_form(), "csrf_token": token, "step": "send",
                                         "confirm_actual": "yes"})
    assert sent.status_code == 302 and "/messages/" in sent.headers["Location"]
    broken = client.post("/compose", data={**_form(body="あ" * 700, channels=["sms"]), "csrf_token": token,
                                           "step": "confirm"})
    assert broken.status_code == 422 and "660" in broken.get_data(as_text=True)


def test_the_composer_refuses_a_staff_message_on_the_public_channels_before_confirming(
    client: FlaskClient
) -> None:
    login(client, "admin")
    page = client.post("/compose", data={**_form(audience="staff", channels=["email", "rss"]),
                                         "csrf_token": csrf(client), "step": "confirm"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "誰でも読める公開チャネル（rss）には送れません" in html
    assert "実配信の最終確認" not in html, "no confirmation step for what cannot be sent"


def test_status_page_marks_exercise_and_actual(client: FlaskClient) -> None:
    login(client, "admin")
    drill_id = body(create(client, mode="exercise", audience="staff", channels=["sms", "email"]))["message_id"]
    live_id = body(create(client))["message_id"]
    drill = client.get(f"/messages/{drill_id}").get_data(as_text=True)
    live = client.get(f"/messages/{live_id}").get_data(as_text=True)
    assert 'data-mode="exercise"' in drill and "訓練モード" in drill and "【訓練】" in drill
    assert "banner-actual" not in drill
    assert 'data-mode="actual"' in live and 'class="badge badge-actual">実配信' in live
    assert "訓練モード" not in live
    assert f"/api/v1/messages/{live_id}/deliveries.csv" in live
    dashboard = client.get("/").get_data(as_text=True)
    assert f"#{drill_id}" in dashboard and "badge-exercise" in dashboard and "badge-actual" in dashboard


def test_approve_button_only_for_another_person(client: FlaskClient) -> None:
    r = create(client, who="bousai1", category="bousai", title="避難指示", body="高台へ避難")
    message_id = body(r)["message_id"]
    login(client, "bousai1")
    own = client.get(f"/messages/{message_id}").get_data(as_text=True)
    assert "承認待ち" in own and "作成者本人は承認できません" in own and "確認して承認する" not in own
    assert f'<a href="/messages/{message_id}">#{message_id} 避難指示</a>' in client.get("/").get_data(as_text=True)
    page = public_path(client.application.extensions["hub"], message_id)
    assert client.get(page).status_code == 404  # not public before approval

    other = client.application.test_client()
    login(other, "bousai2")
    page = other.get(f"/messages/{message_id}").get_data(as_text=True)
    assert "確認して承認する（実配信）" in page
    done = other.post(f"/messages/{message_id}/approve", data={"csrf_token": csrf(other)})
    assert done.status_code == 302
    assert "承認しました" in other.get(f"/messages/{message_id}").get_data(as_text=True)


def test_public_page_needs_no_login(client: FlaskClient) -> None:
    drill_id = body(create(client, mode="exercise", audience="residents", body="訓練用の本文です"))["message_id"]
    live_id = create_approved(client, body="実際のお知らせ本文")["message_id"]
    anonymous = client.application.test_client()
    rt = client.application.extensions["hub"]
    drill = anonymous.get(public_path(rt, drill_id))
    assert drill.status_code == 200
    drill_html = drill.get_data(as_text=True)
    assert "訓練用の本文です" in drill_html and "【訓練】" in drill_html and "banner-exercise" in drill_html
    live_html = anonymous.get(public_path(rt, live_id)).get_data(as_text=True)
    assert "実際のお知らせ本文" in live_html and "banner-exercise" not in live_html
    assert anonymous.get("/m/99999").status_code == 404


def test_prepared_cancellation_from_the_status_page(client: FlaskClient) -> None:
    original = create_approved(client, channels=["email"])["message_id"]
    login(client, "admin")
    form = client.get(f"/compose?ref={original}&type=cancel").get_data(as_text=True)
    assert "取消の作成" in form and f'name="references" value="{original}"' in form
    assert 'name="channels"' not in form  # the original's channels are used, not chosen again
    data = {"references": str(original), "msg_type": "cancel", "mode": "actual", "title": "", "body": "",
            "csrf_token": csrf(client)}
    confirm = client.post("/compose", data={**data, "step": "confirm"}).get_data(as_text=True)
    assert f"元のメッセージ #{original} を取り消します" in confirm and "誤りのため取り消します" in confirm
    sent = client.post("/compose", data={**data, "step": "send", "confirm_actual": "yes"})
    assert sent.status_code == 302
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "取消" in page and f"#{original}" in page


def test_the_composer_starts_from_a_prepared_text_but_never_from_a_trigger_template(client: FlaskClient) -> None:
    login(client, "bousai1")
    page = client.get("/compose").get_data(as_text=True)
    assert 'value="manual-shelter-open"' in page and 'value="manual-water-outage"' in page
    assert 'value="jma-earthquake"' not in page, "a JMA template's variables are the trigger's to fill"
    started = client.get("/compose?template=manual-shelter-open").get_data(as_text=True)
    assert 'value="避難所を開設しました"' in started and "開設場所：（避難所名）" in started
    assert "○○市：避難所を開設しました。" in started  # the SMS text of the template
    assert client.get("/compose?template=no-such").status_code == 404


def test_the_composer_asks_alert_or_everyday_notice_and_the_notice_is_marked(client: FlaskClient) -> None:
    login(client, "admin")
    page = client.get("/compose").get_data(as_text=True)
    assert 'name="msg_type" value="alert"' in page and 'name="msg_type" value="notice"' in page
    token = csrf(client)
    sent = client.post("/compose", data={**_form(mode="exercise", audience="staff", channels=["sms", "email"]), "msg_type": "notice",
                                         "csrf_token": token, "step": "send"})
    assert sent.status_code == 302
    status = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "お知らせ" in status
    follow_up_form = client.get(sent.headers["Location"].replace("/messages/", "/compose?type=cancel&ref="))
    assert follow_up_form.status_code == 200
    assert 'name="msg_type" value="cancel"' in follow_up_form.get_data(as_text=True), "a 取消 has no kind to choose"
    assert 'name="msg_type" value="notice"' not in follow_up_form.get_data(as_text=True)
