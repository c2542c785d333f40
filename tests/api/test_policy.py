"""Issue 9 over HTTP: each former bypass of the approval rule or of a department boundary now fails
with a clear error and changes nothing (rows counted before and after)."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import ApprovalPolicy, Contact, Delivery, Department, Message
from sandbox import SandboxClient
from tests.api.policy_support import (
    audit_actions,
    bearer,
    count,
    create,
    create_approved,
    line_id,
    seed_operators,
    snapshot,
)
from tests.api.support import body, message

API = "/api/v1"


@pytest.fixture
def team(client: FlaskClient, app: Flask) -> FlaskClient:
    seed_operators(app)
    return client


def _follow_up(client: FlaskClient, who: str, original: int, msg_type: str, **fields: str) -> object:
    return client.post(f"{API}/messages", headers=bearer(who),
                       json={"msg_type": msg_type, "references": original, **fields})


# -- the approval rule ---------------------------------------------------------------------------------

def test_leaving_out_the_category_no_longer_skips_the_second_person(team: FlaskClient, app: Flask) -> None:
    before = snapshot(app)
    r = create(team, who="bousai1", category=None, title="避難指示", body="高台へ避難してください")
    assert r.status_code == 201
    assert body(r)["state"] == "awaiting_approval"
    assert count(app, Message) == before[0] + 1 + 1, "the message and the approvers' notice"
    with app.extensions["hub"].session() as s:
        held = s.get(Message, body(r)["message_id"])
        assert held is not None and held.planned_at is None and held.category_code is None


def test_public_channel_or_all_live_policy_holds_a_staff_message(team: FlaskClient, app: Flask) -> None:
    staff = create(team, who="bousai1", audience="staff", channels=["email"])
    assert body(staff)["state"] in ("queued", "done"), "staff only, default policy: no second person"
    public = create(team, who="bousai1", audience="residents", category=None, channels=["rss"])
    assert body(public)["state"] == "awaiting_approval", "a feed reaches the public"
    drill = create(team, who="bousai1", mode="exercise", audience="residents")
    assert body(drill)["state"] in ("queued", "done"), "exercises need no second person"
    with app.extensions["hub"].session() as s:
        dept = s.scalar(select(Department).where(Department.code == "bousai"))
        assert dept is not None
        dept.approval = ApprovalPolicy.ALL_LIVE
    strict = create(team, who="bousai1", audience="staff", channels=["email"])
    assert body(strict)["state"] == "awaiting_approval"


def test_correction_with_new_text_waits_for_approval(team: FlaskClient, app: Flask) -> None:
    original = create_approved(team, who="bousai1", channels=["sms", "email"])["message_id"]
    correction = _follow_up(team, "bousai1", original, "update", body="会場は第二庁舎に変わりました。")
    assert correction.status_code == 201  # type: ignore[attr-defined]
    assert body(correction)["state"] == "awaiting_approval"
    assert all(sum(c.values()) == 0 for c in body(correction)["channels"].values()), "nothing sent yet"


def test_prepared_cancellation_goes_at_once_but_added_words_wait(team: FlaskClient, app: Flask) -> None:
    original = create_approved(team, who="bousai1", channels=["sms", "email"])["message_id"]
    added = _follow_up(team, "bousai1", original, "cancel", body="誤りでした。詳しくは後ほどお知らせします。")
    assert body(added)["state"] == "awaiting_approval"
    assert all(sum(c.values()) == 0 for c in body(added)["channels"].values())

    second = create_approved(team, who="bousai1", channels=["sms", "email"])["message_id"]
    prepared = _follow_up(team, "bousai1", second, "cancel")
    assert prepared.status_code == 201  # type: ignore[attr-defined]
    summary = body(prepared)
    assert summary["state"] in ("queued", "done")
    assert sum(c["sent"] + c["delivered"] for c in summary["channels"].values()) > 0, "went out at once"


def test_a_cancellation_with_words_in_another_language_waits(team: FlaskClient, app: Flask) -> None:
    """The prepared Japanese retraction goes at once, but a text in another language is a person's
    words, whatever origin the caller claims for it: a second person reads them first."""
    original = create_approved(team, who="bousai1", channels=["sms", "email"])["message_id"]
    for origin in ("operator", "machine", "reviewed"):
        texts = {"en": {"title": "Notice", "body": "Evacuate to the coast now.", "origin": origin}}
        r = team.post(f"{API}/messages", headers=bearer("bousai1"),
                      json={"msg_type": "cancel", "references": original, "texts": texts})
        assert r.status_code == 201, r.get_data(as_text=True)
        assert body(r)["state"] == "awaiting_approval", origin
        assert all(sum(c.values()) == 0 for c in body(r)["channels"].values()), origin


def test_another_departments_sender_cannot_cancel_or_correct(team: FlaskClient, app: Flask) -> None:
    original = create_approved(team, who="bousai1", channels=["sms"])["message_id"]
    before = snapshot(app)
    for msg_type, fields in (("cancel", {}), ("update", {"body": "訂正します"})):
        r = _follow_up(team, "kenko1", original, msg_type, **fields)
        assert r.status_code == 403, msg_type  # type: ignore[attr-defined]
        assert body(r)["error"]["code"] == "forbidden"
    assert snapshot(app) == before


def test_creator_and_other_departments_approver_cannot_approve(team: FlaskClient, app: Flask) -> None:
    waiting = body(create(team, who="bousai2"))["message_id"]
    approve = f"{API}/messages/{waiting}/approve"
    before = snapshot(app)
    own = team.post(approve, headers=bearer("bousai2"))
    assert own.status_code == 409 and "作成者本人" in body(own)["error"]["message"]
    other = team.post(approve, headers=bearer("kenko2"))
    assert other.status_code == 403
    assert snapshot(app) == before
    assert team.post(approve, headers=bearer("admin")).status_code == 200


def test_an_approver_rejects_with_a_reason_and_nothing_goes_out(team: FlaskClient, app: Flask) -> None:
    waiting = body(create(team, who="bousai1", title="誤った避難指示"))["message_id"]
    reject = f"{API}/messages/{waiting}/reject"
    assert team.post(reject, json={"reason": "対象地域が違う"}, headers=bearer("kenko2")).status_code == 403
    assert team.post(reject, json={"reason": " "}, headers=bearer("bousai2")).status_code == 400
    assert team.post(reject, json={"reason": "自分で"}, headers=bearer("bousai1")).status_code in (403, 409)
    refused = team.post(reject, json={"reason": "対象地域が違う"}, headers=bearer("bousai2"))
    assert refused.status_code == 200 and body(refused)["state"] == "withdrawn"
    # Rejected is final: nobody can approve it afterwards, and nothing was planned.
    assert team.post(f"{API}/messages/{waiting}/approve", headers=bearer("admin")).status_code == 409
    assert count(app, Delivery, Delivery.message_id == waiting) == 0
    [entry] = audit_actions(app, "message.reject")
    assert entry.actor == "bousai2" and entry.detail["reason"] == "対象地域が違う"


def test_every_export_is_audited_with_who_and_whether_addresses_were_masked(
        team: FlaskClient, app: Flask) -> None:
    sent = create_approved(team, who="bousai1", channels=["sms"])["message_id"]
    assert team.get(f"{API}/messages/{sent}/deliveries.csv", headers=bearer("viewer")).status_code == 200
    assert team.get(f"{API}/messages/{sent}/deliveries.csv", headers=bearer("bousai1")).status_code == 200
    started = team.post(f"{API}/callouts", json={**CALLOUT, "departments": ["bousai"]}, headers=bearer("bousai1"))
    callout_id = body(started)["callout"]["id"]
    assert team.get(f"{API}/callouts/{callout_id}/export.csv", headers=bearer("bousai1")).status_code == 200
    exports = [(e.actor, e.action, e.detail.get("masked")) for e in audit_actions(app, "export.deliveries")]
    assert exports == [("viewer", "export.deliveries", True), ("bousai1", "export.deliveries", False)]
    assert [(e.actor, e.subject_id) for e in audit_actions(app, "export.callout")] == [("bousai1", str(callout_id))]


def test_viewer_cannot_send_and_sees_masked_addresses(team: FlaskClient, app: Flask) -> None:
    before = snapshot(app)
    refused = create(team, who="viewer")
    assert refused.status_code == 403 and body(refused)["error"]["code"] == "forbidden"
    assert snapshot(app) == before

    sent = create_approved(team, who="bousai1", channels=["sms", "email"])["message_id"]
    rows = f"{API}/messages/{sent}/deliveries?per_page=500"
    full = {d["id"]: d["address"] for d in body(team.get(rows, headers=bearer("bousai1")))["items"]}
    masked = {d["id"]: d["address"] for d in body(team.get(rows, headers=bearer("viewer")))["items"]}
    assert full.keys() == masked.keys() and full
    for row_id, address in full.items():
        assert masked[row_id] != address and ("****" in masked[row_id] or "***@" in masked[row_id])
    phone = next(a for a in full.values() if a.startswith("+81"))
    assert next(m for i, m in masked.items() if full[i] == phone) == f"+81 {phone[3:5]}-****-{phone[-4:]}"
    export = team.get(f"{API}/messages/{sent}/deliveries.csv", headers=bearer("viewer"))
    exported = {r["address"] for r in csv.DictReader(io.StringIO(export.data.decode("utf-8-sig")))}
    assert exported.isdisjoint(full.values())


def test_reads_are_scoped_to_the_operators_departments(team: FlaskClient, app: Flask) -> None:
    bousai = body(create(team, who="bousai1"))["message_id"]
    kenko = body(create(team, who="kenko1"))["message_id"]
    listed = {m["message_id"] for m in body(team.get(f"{API}/messages", headers=bearer("kenko1")))["items"]}
    assert kenko in listed and bousai not in listed
    assert team.get(f"{API}/messages/{bousai}", headers=bearer("kenko1")).status_code == 403
    assert team.get(f"{API}/messages/{bousai}/deliveries", headers=bearer("kenko1")).status_code == 403
    assert team.get(f"{API}/messages/{bousai}/deliveries.csv", headers=bearer("kenko1")).status_code == 403
    assert team.get(f"{API}/messages/{bousai}", headers=bearer("viewer")).status_code == 200


def test_sender_may_not_borrow_another_departments_name(team: FlaskClient, app: Flask) -> None:
    before = snapshot(app)
    r = create(team, who="bousai1", department="kenko")
    assert r.status_code == 403
    assert snapshot(app) == before
    with app.extensions["hub"].session() as s:
        dept = s.scalar(select(Department.id).where(Department.code == "bousai"))
    mine = body(create(team, who="bousai1"))["message_id"]
    with app.extensions["hub"].session() as s:
        message = s.get(Message, mine)
        assert message is not None and message.department_id == dept, "the home department by default"


def test_without_a_home_department_the_department_must_be_named(team: FlaskClient, app: Flask) -> None:
    before = snapshot(app)
    r = create(team, who="roamer")
    assert r.status_code == 400 and "department" in body(r)["error"]["problems"]
    assert snapshot(app) == before
    named = create(team, who="roamer", department="bousai")
    assert named.status_code == 201


# -- approval requests and the override ------------------------------------------------------------------

def _notices(sandbox_client: SandboxClient, who: str, email: str) -> tuple[list[str], list[str]]:
    lines = [i["text"] for i in sandbox_client.inbox("line", to=line_id(who))]
    mails = [i["text"] for i in sandbox_client.inbox("email", to=email)]
    return lines, mails


def test_approvers_are_told_by_line_and_email_with_a_link(
    team: FlaskClient, app: Flask, sandbox_client: SandboxClient
) -> None:
    sandbox_client.clear()
    waiting = body(create(team, who="bousai1", title="避難指示"))["message_id"]
    link = f"{app.config['HUB_SETTINGS'].public_url}/messages/{waiting}"
    for who in ("bousai2", "admin"):
        lines, mails = _notices(sandbox_client, who, f"{who}@city.example.jp")
        assert any(link in t for t in lines) and any(link in t for t in mails), who
    lines, mails = _notices(sandbox_client, "kenko2", "kenko2@city.example.jp")
    assert not lines and not mails, "another department's approver is not asked"


def test_override_by_its_holder_goes_at_once_is_audited_and_announced(
    team: FlaskClient, app: Flask, sandbox_client: SandboxClient
) -> None:
    sandbox_client.clear()
    r = create(team, who="hero", title="大津波警報", override={"reason": "承認者に連絡がつかないため"})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert body(r)["state"] in ("queued", "done")
    assert sum(c["sent"] + c["delivered"] for c in body(r)["channels"].values()) > 0
    [entry] = audit_actions(app, "message.override")
    assert entry.actor == "hero" and entry.detail["reason"] == "承認者に連絡がつかないため"
    assert entry.subject_id == str(body(r)["message_id"])
    for who in ("bousai2", "admin"):
        lines, mails = _notices(sandbox_client, who, f"{who}@city.example.jp")
        assert any("承認を省略" in t and "承認者に連絡がつかないため" in t for t in lines), who
        assert any("承認を省略" in t for t in mails), who


def test_override_without_holding_it_is_refused(team: FlaskClient, app: Flask) -> None:
    before = snapshot(app)
    for who in ("bousai1", "admin"):  # an admin does not hold it implicitly
        r = create(team, who=who, override={"reason": "急ぎ"})
        assert r.status_code == 403, who
        assert "オーバーライド" in body(r)["error"]["message"]
    english = team.post(f"{API}/messages", json={**message(), "override": {"reason": "急ぎ"}},
                        headers=bearer("bousai1", **{"Accept-Language": "en"}))
    assert body(english)["error"]["message"] == "You do not hold the emergency override"
    assert snapshot(app) == before
    assert not audit_actions(app, "message.override")
    empty = create(team, who="hero", override={"reason": " "})
    assert empty.status_code == 400 and "override" in body(empty)["error"]["problems"]


# -- call-outs -------------------------------------------------------------------------------------------

CALLOUT = {"survey": "anpi", "mode": "exercise", "interval": "5m", "cycles": 1, "steps": ["line", "email"]}


def test_callout_for_a_department_the_sender_may_not_call_is_403(team: FlaskClient, app: Flask) -> None:
    before = snapshot(app)
    r = team.post(f"{API}/callouts", json={**CALLOUT, "departments": ["kenko"]}, headers=bearer("bousai1"))
    assert r.status_code == 403 and "健康推進課" in body(r)["error"]["message"]
    mixed = team.post(f"{API}/callouts", json={**CALLOUT, "departments": ["bousai", "kenko"]},
                      headers=bearer("bousai1"))
    assert mixed.status_code == 403
    assert snapshot(app) == before
    everyone = team.post(f"{API}/callouts", json={**CALLOUT, "departments": "all"}, headers=bearer("bousai1"))
    assert everyone.status_code == 201, everyone.get_data(as_text=True)
    assert body(everyone)["callout"]["departments"] == ["bousai"], "all = all the sender may call"


@pytest.mark.parametrize("change", [
    {"steps": ["line", "email"] * 25, "cycles": 10},
    {"cycles": 6},
    {"steps": ["line"] * 11},
    {"interval": "30s"},
])
def test_callout_bounds_are_400(team: FlaskClient, app: Flask, change: dict[str, object]) -> None:
    before = snapshot(app)
    r = team.post(f"{API}/callouts", json={**CALLOUT, "departments": ["bousai"], **change}, headers=bearer())
    assert r.status_code == 400 and body(r)["error"]["code"] == "invalid_callout"
    assert snapshot(app) == before


def test_callout_without_mode_is_400(team: FlaskClient, app: Flask) -> None:
    data = {k: v for k, v in CALLOUT.items() if k != "mode"}
    r = team.post(f"{API}/callouts", json={**data, "departments": ["bousai"]}, headers=bearer())
    assert r.status_code == 400 and "mode" in body(r)["error"]["message"]


def test_closing_another_departments_callout_is_403(team: FlaskClient, app: Flask) -> None:
    started = team.post(f"{API}/callouts", json={**CALLOUT, "departments": ["bousai"]}, headers=bearer("bousai1"))
    callout_id = body(started)["callout"]["id"]
    r = team.post(f"{API}/callouts/{callout_id}/close", headers=bearer("kenko1"))
    assert r.status_code == 403
    assert body(team.get(f"{API}/callouts/{callout_id}", headers=bearer()))["callout"]["state"] == "active"
    assert team.get(f"{API}/callouts/{callout_id}", headers=bearer("kenko1")).status_code == 403
    listed = body(team.get(f"{API}/callouts", headers=bearer("kenko1")))["items"]
    assert callout_id not in [c["id"] for c in listed]


# -- contact imports -------------------------------------------------------------------------------------

def _import(client: FlaskClient, who: str, text: str) -> dict[str, object]:
    r = client.post(f"{API}/contacts/import", data=text.encode(), headers=bearer(who, **{"Content-Type": "text/csv"}))
    assert r.status_code == 200, r.get_data(as_text=True)
    return dict(body(r))


def _contact(app: Flask, external_id: str) -> Contact:
    with app.extensions["hub"].session() as s:
        found = s.scalar(select(Contact).where(Contact.external_id == external_id))
        assert found is not None
        s.expunge(found)
        return found


def test_import_cannot_overwrite_another_departments_contact(team: FlaskClient, app: Flask) -> None:
    _import(team, "admin", "external_id,kind,name,department,phone,email\n"
                           "K1,staff,健康 一郎,kenko,090-1111-0001,k1@city.example.jp\n")
    before = _contact(app, "K1")
    report = _import(team, "bousai1", "external_id,kind,name,department,phone,email\n"
                                      "K1,staff,乗っ取り,bousai,090-9999-9999,evil@example.jp\n"
                                      "B1,staff,防災 一郎,bousai,090-1111-0002,\n")
    assert [e["line"] for e in report["errors"]] == [2]  # type: ignore[union-attr, index]
    assert (report["created"], report["updated"]) == (1, 0)
    after = _contact(app, "K1")
    assert (after.name, after.phone, after.email, after.department_id) == (
        before.name, before.phone, before.email, before.department_id)
    resident = _import(team, "bousai1", "external_id,name,phone\nR9,住民,090-1111-0003\n")
    assert resident["created"] == 0 and resident["errors"], "the resident register is the admins' by default"


def test_partial_csv_leaves_stored_fields_and_dash_clears(team: FlaskClient, app: Flask) -> None:
    _import(team, "bousai1", "external_id,kind,name,department,position,phone,email,exercise\n"
                             "B2,staff,防災 次郎,bousai,主事,090-1111-0004,jiro@city.example.jp,yes\n")
    report = _import(team, "bousai1", "external_id,name\nB2,防災 二郎\n")
    assert report["updated"] == 1 and not report["errors"], report
    renamed = _contact(app, "B2")
    assert (renamed.name, renamed.phone, renamed.email, renamed.position, renamed.exercise_participant) == (
        "防災 二郎", "+819011110004", "jiro@city.example.jp", "主事", True)
    _import(team, "bousai1", "external_id,position,email,phone\nB2,,-,\n")
    cleared = _contact(app, "B2")
    assert (cleared.position, cleared.email, cleared.phone) == ("主事", None, "+819011110004")
