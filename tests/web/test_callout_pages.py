"""The call-out and JMA console pages without a browser: policy, CSRF, the confirmation step."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models.relay import Callout, CalloutState
from hub.models.triggers import FeedHealth
from hub.relay.callouts import start_callout
from hub.runtime import Runtime
from tests.api.support import login
from tests.relay.support import seed_staff


def _csrf(client: FlaskClient) -> str:
    with client.session_transaction() as sess:
        return str(sess["csrf"])


def _form(client: FlaskClient, **extra: str) -> dict[str, str]:
    return {"csrf_token": _csrf(client), "survey": "anpi", "departments": "bousai", "mode": "exercise",
            "steps": "line,email", "interval": "2m", "cycles": "2", **extra}


def _callouts(runtime: Runtime) -> list[Callout]:
    with runtime.session() as s:
        return list(s.scalars(select(Callout)))


def test_a_viewer_sees_the_list_and_jma_but_may_not_start_or_close(
    client: FlaskClient, runtime: Runtime
) -> None:
    seed_staff(runtime, 4)
    with runtime.session() as s:
        callout_id = start_callout(s, runtime, "anpi", "bousai", mode="exercise", source="test").id
    login(client, "viewer")
    listing = client.get("/callouts").get_data(as_text=True)
    assert f'data-id="{callout_id}"' in listing and 'id="new-callout"' not in listing
    assert client.get("/jma").status_code == 200
    english = client.get("/callouts?lang=en").get_data(as_text=True)
    assert "Staff call-outs" in english and ">JMA</a>" in english
    assert "Recent telegrams and decisions" in client.get("/jma?lang=en").get_data(as_text=True)
    assert client.get("/callouts/new").status_code == 403
    assert client.post("/callouts/new", data=_form(client, step="start")).status_code == 403
    tally = client.get(f"/relay/callouts/{callout_id}").get_data(as_text=True)
    assert 'id="close-callout"' not in tally
    assert client.get(f"/callouts/{callout_id}/close").status_code == 403
    assert client.post(f"/callouts/{callout_id}/close", data={"csrf_token": _csrf(client)}).status_code == 403
    assert [c.state for c in _callouts(runtime)] == [CalloutState.ACTIVE]


def test_a_sender_may_not_call_other_departments_nor_close_a_call_out_reaching_them(
    client: FlaskClient, runtime: Runtime
) -> None:
    seed_staff(runtime, 8)
    with runtime.session() as s:
        everyone = start_callout(s, runtime, "anpi", "all", mode="exercise", source="test").id
    login(client, "bousai1")
    refused = client.post("/callouts/new", data=_form(client, departments="doboku", step="start"))
    assert refused.status_code == 403 and "土木課" in refused.get_data(as_text=True)
    # bousai1 reads only 防災: a call-out of every department is not theirs to read or close.
    assert client.get(f"/callouts/{everyone}/close").status_code == 403
    assert client.post(f"/callouts/{everyone}/close", data={"csrf_token": _csrf(client)}).status_code == 403
    assert [c.id for c in _callouts(runtime)] == [everyone]


def test_confirmation_starts_nothing_and_start_needs_csrf_a_mode_and_the_bounds(
    client: FlaskClient, runtime: Runtime
) -> None:
    seed_staff(runtime, 8)
    login(client, "bousai1")
    confirm = client.post("/callouts/new", data=_form(client))
    assert confirm.status_code == 200 and 'id="start-callout"' in confirm.get_data(as_text=True)
    assert _callouts(runtime) == []
    assert client.post("/callouts/new", data={**_form(client, step="start"), "csrf_token": "forged"}).status_code == 400
    no_mode = client.post("/callouts/new", data=_form(client, mode="", step="start"))
    assert no_mode.status_code == 422 and "実配信か訓練か" in no_mode.get_data(as_text=True)
    too_many = client.post("/callouts/new", data=_form(client, cycles="6", step="start"))
    assert too_many.status_code == 422 and "繰り返し回数は1〜5回" in too_many.get_data(as_text=True)
    too_fast = client.post("/callouts/new", data=_form(client, interval="5s", step="start"))
    assert too_fast.status_code == 422 and "間隔" in too_fast.get_data(as_text=True)
    live_unticked = client.post("/callouts/new", data=_form(client, mode="actual", step="start"))
    assert live_unticked.status_code == 422 and _callouts(runtime) == []
    started = client.post("/callouts/new", data=_form(client, step="start"))
    assert started.status_code == 302
    [callout] = _callouts(runtime)
    assert started.headers["Location"].endswith(f"/relay/callouts/{callout.id}")
    assert (callout.mode, callout.chain, callout.cycles, callout.source) == ("exercise", ["line", "email"], 2, "web")
    assert client.post(f"/callouts/{callout.id}/close", data={}).status_code == 400  # no CSRF token
    closed = client.post(f"/callouts/{callout.id}/close", data={"csrf_token": _csrf(client)})
    assert closed.status_code == 302 and _callouts(runtime)[0].state == CalloutState.CLOSED


def test_the_jma_page_is_for_logged_in_operators(app: Flask) -> None:
    assert app.test_client().get("/jma").status_code == 302


def test_the_jma_page_writes_a_feeds_times_as_the_rest_of_the_console(client: FlaskClient, runtime: Runtime) -> None:
    with runtime.session() as s:
        s.add(FeedHealth(source="jma", url="https://www.data.jma.go.jp/developer/xml/feed/extra.xml",
                         last_success_at=datetime(2026, 12, 1, 23, 5, tzinfo=UTC),
                         last_error_at=datetime(2026, 12, 1, 23, 7, tzinfo=UTC), last_error="HTTP 503"))
    login(client, "viewer")
    page = client.get("/jma").get_data(as_text=True)
    assert "2026-12-02 08:05" in page and "HTTP 503 （2026-12-02 08:07）" in page, "Japan time, one format"
