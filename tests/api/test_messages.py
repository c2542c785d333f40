"""The message endpoints end to end: eager tasks, the sandbox providers, SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient

from tests.api.support import bearer, body, create, create_approved

API = "/api/v1"


def test_no_or_bad_token_is_401_and_roles_are_checked(client: FlaskClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YWRtaW46eA=="}):
        r = client.get(f"{API}/messages", headers=headers)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
        assert body(r)["error"]["code"] == "unauthorized"
        assert "認証" in body(r)["error"]["message"]
    english = body(client.get(f"{API}/messages", headers={"Accept-Language": "en"}))["error"]["message"]
    assert english.startswith("Authentication required")
    assert body(client.get(f"{API}/nope", headers=bearer())) == {
        "error": {"code": "not_found", "message": "見つかりません"}}
    viewer = create(client, who="viewer")
    assert viewer.status_code == 403 and body(viewer)["error"]["code"] == "forbidden"
    assert client.get(f"{API}/messages", headers=bearer("viewer")).status_code == 200


def test_create_then_counts_paging_and_csv(client: FlaskClient) -> None:
    r = create(client)
    assert r.status_code == 201, r.json
    assert set(body(r)["channels"]) == {"sms", "email", "rss"}
    message_id = body(r)["message_id"]
    assert r.headers["Location"].endswith(f"{API}/messages/{message_id}")
    assert body(r)["state"] == "awaiting_approval", "live to residents: a second person first"
    assert client.post(f"{API}/messages/{message_id}/approve", headers=bearer("bousai2")).status_code == 200

    status = body(client.get(f"{API}/messages/{message_id}", headers=bearer()))
    assert status["state"] == "done"
    counts = status["channels"]
    assert all(c["pending"] == 0 for c in counts.values())
    assert counts["rss"]["delivered"] == 1
    assert counts["sms"]["sent"] + counts["sms"]["delivered"] > 0
    total = sum(sum(c.values()) for c in counts.values())

    rows = f"{API}/messages/{message_id}/deliveries"
    first = body(client.get(f"{rows}?per_page=5", headers=bearer()))
    second = body(client.get(f"{rows}?per_page=5&page=2", headers=bearer()))
    assert first["total"] == total and len(first["items"]) == 5
    assert {d["id"] for d in first["items"]}.isdisjoint(d["id"] for d in second["items"])
    rss = body(client.get(f"{rows}?channel=rss&state=delivered", headers=bearer()))
    assert rss["total"] == 1 and rss["items"][0]["address"] == "rss:kenko"
    assert client.get(f"{rows}?state=lost", headers=bearer()).status_code == 400
    assert client.get(f"{rows}?per_page=0", headers=bearer()).status_code == 400

    export = client.get(f"{rows}.csv", headers=bearer())
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    assert f'filename="deliveries-{message_id}.csv"' in export.headers["Content-Disposition"]
    assert export.data.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert lines[0][0] == "delivery_id" and len(lines) - 1 == total

    listing = body(client.get(f"{API}/messages", headers=bearer()))
    assert [m["message_id"] for m in listing["items"]] == [message_id]


def test_sms_over_660_chars_is_422_with_problems_per_channel(client: FlaskClient) -> None:
    r = create(client, body="あ" * 700, channels=["sms", "email"])
    assert r.status_code == 422
    error = body(r)["error"]
    assert error["code"] == "compose_error"
    assert "660" in error["problems"]["sms"][0] and "email" not in error["problems"]
    assert body(client.get(f"{API}/messages", headers=bearer()))["total"] == 0

    # A request with a missing or wrong field is malformed (400); 422 is for text a channel cannot carry.
    missing = client.post(f"{API}/messages", json={"title": "x", "channels": ["sms"]}, headers=bearer())
    assert missing.status_code == 400 and "mode" in body(missing)["error"]["problems"]
    cancel = create(client, msg_type="cancel")
    assert cancel.status_code == 400 and "references" in body(cancel)["error"]["problems"]
    assert client.post(f"{API}/messages", data="x", headers=bearer()).status_code == 400


def test_second_person_approval(client: FlaskClient) -> None:
    r = create(client, who="bousai2", category="bousai", title="避難指示", body="高台へ避難してください")
    assert r.status_code == 201
    assert body(r)["state"] == "awaiting_approval"
    assert all(sum(c.values()) == 0 for c in body(r)["channels"].values())
    approve = f"{API}/messages/{body(r)['message_id']}/approve"

    own = client.post(approve, headers=bearer("bousai2"))
    assert own.status_code == 409
    assert "作成者本人は承認できません" in body(own)["error"]["message"]
    own_en = client.post(approve, headers=bearer("bousai2", **{"Accept-Language": "en"}))
    assert "creator cannot approve" in body(own_en)["error"]["message"]
    assert client.post(approve, headers=bearer("bousai1")).status_code == 403  # a sender may not approve

    ok = client.post(approve, headers=bearer("admin"))
    assert ok.status_code == 200 and body(ok)["state"] in ("queued", "done")
    counts = body(client.get(approve.removesuffix("/approve"), headers=bearer()))["channels"]
    assert counts["rss"]["delivered"] == 1
    assert counts["email"]["sent"] + counts["email"]["delivered"] > 0
    assert client.post(approve, headers=bearer("admin")).status_code == 409


def test_preview_renders_without_saving(client: FlaskClient) -> None:
    r = client.post(f"{API}/messages/preview", headers=bearer(),
                    json={"title": "訓練", "body": "い" * 100, "channels": ["sms", "x"], "mode": "exercise",
                          "audience": "staff"})
    assert r.status_code == 200
    sms, x = body(r)["channels"]["sms"], body(r)["channels"]["x"]
    assert sms["text"].startswith("【訓練】") and x["text"].startswith("【訓練】")
    assert sms["meta"]["segments"] == sms["units"] >= 2
    assert x["meta"]["weighted_length"] > 0
    assert body(r)["audience"]["size"] == 3  # staff are drill participants in the demo data
    assert body(client.get(f"{API}/messages", headers=bearer()))["total"] == 0


def test_cancel_goes_to_whoever_received_the_original(client: FlaskClient) -> None:
    original = create_approved(client, channels=["sms", "rss"])
    received = original["channels"]["sms"]["sent"] + original["channels"]["sms"]["delivered"]
    cancel = client.post(f"{API}/messages", headers=bearer(),
                         json={"msg_type": "cancel", "references": original["message_id"]})
    assert cancel.status_code == 201, cancel.json
    follow_up = body(cancel)
    assert (follow_up["msg_type"], follow_up["references"]) == ("cancel", original["message_id"])
    assert sum(follow_up["channels"]["sms"].values()) == received
    assert follow_up["channels"]["rss"]["delivered"] == 1
    detail = body(client.get(f"{API}/messages/{follow_up['message_id']}", headers=bearer()))
    assert all(b["text"].startswith("【取消】") for b in detail["bodies"])

    waiting = body(create(client, who="bousai1", category="bousai"))
    nothing_sent = client.post(f"{API}/messages", headers=bearer(),
                               json={"msg_type": "cancel", "references": waiting["message_id"]})
    assert nothing_sent.status_code == 200 and body(nothing_sent)["state"] == "withdrawn"
