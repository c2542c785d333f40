"""API tokens: issued once with an expiry, listed without their value, revoked; issuing or revoking ends the
owner's sessions; a revoked or expired token gets 401. Over HTTP and through `hub token`."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.accounts import token_hash
from hub.models import ApiToken, utcnow
from tests.accounts.support import audit_actions, invoke, one_time_password
from tests.api.support import PASSWORDS, TOKENS, bearer, body, csrf, login

API = "/api/v1"


def _issue(client: FlaskClient, who: str = "bousai1", **fields: object) -> dict[str, object]:
    r = client.post(f"{API}/tokens", json={"name": "script", **fields}, headers=bearer(who))
    assert r.status_code == 201, r.get_data(as_text=True)
    data: dict[str, object] = body(r)
    return data


def test_issue_list_revoke_over_the_api(client: FlaskClient, app: Flask) -> None:
    issued = _issue(client, expires_in_days=30)
    token = str(issued["token"])
    assert token.startswith("hub_") and issued["active"] is True and issued["operator"] == "bousai1"
    expires = str(issued["expires_at"])
    assert expires[:10] == (utcnow() + timedelta(days=30)).date().isoformat()
    # Stored hashed only; listed without its value.
    with app.extensions["hub"].session() as s:
        assert s.scalar(select(ApiToken.token_hash).where(ApiToken.id == issued["id"])) == token_hash(token)
        assert s.scalar(select(ApiToken).where(ApiToken.token_hash == token)) is None
    listed = body(client.get(f"{API}/tokens", headers={"Authorization": f"Bearer {token}"}))["items"]
    assert {t["name"] for t in listed} == {"test", "script"} and "token" not in listed[0]
    assert token not in json.dumps(listed)
    # The default expiry is 90 days.
    default = _issue(client)
    assert str(default["expires_at"])[:10] == (utcnow() + timedelta(days=90)).date().isoformat()
    revoked = client.delete(f"{API}/tokens/{issued['id']}", headers=bearer("bousai1"))
    assert revoked.status_code == 200 and body(revoked)["active"] is False
    assert client.get(f"{API}/messages", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    actions = [(a, b) for a, b, _d in audit_actions(app, "token")]
    assert ("bousai1", "token.issue") in actions and ("bousai1", "token.revoke") in actions
    assert token not in json.dumps([d for _a, _b, d in audit_actions(app)])


def test_bad_input_is_refused(client: FlaskClient) -> None:
    for fields in ({"name": ""}, {"name": "x", "expires_in_days": 0}, {"name": "x", "expires_in_days": 9999},
                   {"name": "x", "expires_in_days": "30"}):
        r = client.post(f"{API}/tokens", json=fields, headers=bearer("bousai1"))
        assert r.status_code == 422, fields


def test_an_operator_manages_only_their_own_tokens_an_admin_anyones(client: FlaskClient) -> None:
    mine = _issue(client, "bousai1")
    # Another operator neither sees nor revokes it, nor issues one in someone else's name.
    assert client.delete(f"{API}/tokens/{mine['id']}", headers=bearer("bousai2")).status_code == 404
    assert client.get(f"{API}/tokens?operator=bousai1", headers=bearer("bousai2")).status_code == 403
    assert client.get(f"{API}/tokens?all=1", headers=bearer("bousai2")).status_code == 403
    assert client.post(f"{API}/tokens", json={"name": "x", "operator": "bousai1"},
                       headers=bearer("bousai2")).status_code == 403
    # An admin does all three.
    assert len(body(client.get(f"{API}/tokens?operator=bousai1", headers=bearer("admin")))["items"]) == 2
    on_behalf = _issue(client, "admin", operator="bousai2")
    assert on_behalf["operator"] == "bousai2"
    assert client.delete(f"{API}/tokens/{mine['id']}", headers=bearer("admin")).status_code == 200


def test_issuing_or_revoking_a_token_ends_the_owners_sessions(client: FlaskClient, app: Flask) -> None:
    def session_works(c: FlaskClient) -> bool:
        return c.post(f"{API}/messages/preview", json={"title": "t", "channels": ["sms"], "mode": "exercise"},
                      headers={"X-CSRF-Token": csrf(c)}).status_code == 200

    browser = app.test_client()
    login(browser, "bousai1")
    assert session_works(browser)
    issued = _issue(client, "bousai1")
    assert not session_works(browser) and browser.get("/").status_code == 302
    login(browser, "bousai1")
    assert session_works(browser)
    client.delete(f"{API}/tokens/{issued['id']}", headers=bearer("bousai1"))
    assert not session_works(browser)


def test_an_expired_token_gets_401(client: FlaskClient, app: Flask) -> None:
    issued = _issue(client, "bousai1", expires_in_days=1)
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get(f"{API}/messages", headers=headers).status_code == 200
    with app.extensions["hub"].session() as s:
        row = s.get(ApiToken, issued["id"])
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert client.get(f"{API}/messages", headers=headers).status_code == 401
    listed = body(client.get(f"{API}/tokens", headers=bearer("bousai1")))["items"]
    assert [t["active"] for t in listed if t["id"] == issued["id"]] == [False]


def test_hub_token_issue_list_revoke(client: FlaskClient, app: Flask) -> None:
    issued = invoke(app, "token", "issue", "--name", "夜間バッチ", "--expires-in", "7", "--json",
                    token=TOKENS["bousai1"])
    assert issued.exit_code == 0, issued.output
    data = json.loads(issued.output)
    assert data["token"].startswith("hub_") and data["operator"] == "bousai1"
    # The new token is the operator's identity on the CLI as well.
    listed = invoke(app, "token", "list", "--json", token=data["token"])
    assert listed.exit_code == 0 and "夜間バッチ" in listed.output and data["token"] not in listed.output
    # Not someone else's, unless an admin.
    assert invoke(app, "token", "revoke", str(data["id"]), token=TOKENS["bousai2"]).exit_code != 0
    assert invoke(app, "token", "issue", "--name", "x", "--operator", "bousai1",
                  token=TOKENS["bousai2"]).exit_code != 0
    assert invoke(app, "token", "revoke", str(data["id"]), token=TOKENS["bousai1"]).exit_code == 0
    refused = invoke(app, "token", "list", token=data["token"])
    assert refused.exit_code != 0 and "HUB_TOKEN" in refused.output
    assert invoke(app, "token", "issue", "--name", "y", "--operator", "bousai1", token=TOKENS["admin"]
                  ).exit_code == 0
    assert invoke(app, "token", "list", "--all", token=TOKENS["admin"]).exit_code == 0


def test_a_first_token_by_logging_in_on_the_cli(client: FlaskClient, app: Flask) -> None:
    issued = invoke(app, "token", "issue", "--name", "laptop", "--login", "bousai1", "--json",
                    input=f"{PASSWORDS['bousai1']}\n")
    assert issued.exit_code == 0, issued.output
    token = json.loads(issued.output.splitlines()[-1])["token"]
    assert invoke(app, "token", "list", token=token).exit_code == 0
    wrong = invoke(app, "token", "issue", "--name", "laptop", "--login", "bousai1", input="guess-guess-guess\n")
    assert wrong.exit_code != 0 and "パスワードが正しくありません" in wrong.output
    assert ("bousai1", "login.failed") in [(a, b) for a, b, _d in audit_actions(app, "login")]
    # A one-time password must first be changed on the web.
    created = invoke(app, "admin", "operator", "create", "zei9", "--display-name", "税 九", token=TOKENS["admin"])
    first = one_time_password(created.output)
    pending = invoke(app, "token", "issue", "--name", "x", "--login", "zei9", input=f"{first}\n")
    assert pending.exit_code != 0 and "Web" in pending.output
    assert "hub_" not in pending.output
