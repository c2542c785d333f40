"""Public feeds: actual entries in the public Atom/RSS/CAP feeds, exercises only in exercise.atom."""

from __future__ import annotations

from flask.testing import FlaskClient
from lxml import etree

from tests.api.support import bearer, body, create, create_approved
from tests.support.hubtools import public_path

ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def _titles(client: FlaskClient, url: str) -> list[str]:
    r = client.get(url)
    assert r.status_code == 200, url
    assert r.headers["Content-Type"].startswith("application/atom+xml")
    entries = etree.fromstring(r.data).iter(f"{ATOM}entry")
    return [entry.findtext(f"{ATOM}title", "") for entry in entries]


def _cap(client: FlaskClient, message_id: int) -> etree._Element:
    r = client.get(f"/feeds/cap/{message_id}.xml")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/cap+xml")
    return etree.fromstring(r.data)


def test_actual_and_exercise_go_to_different_feeds(client: FlaskClient) -> None:
    live = create_approved(client, title="断水のお知らせ", channels=["rss"])["message_id"]
    drill = body(create(client, title="避難訓練", channels=["rss"], mode="exercise",
                   audience="residents"))["message_id"]
    public = client.application.test_client()  # no login, no token

    assert _titles(public, "/feeds/all.atom") == ["断水のお知らせ"]
    assert _titles(public, "/feeds/kenko.atom") == ["断水のお知らせ"]
    assert _titles(public, "/feeds/bousai.atom") == []
    assert _titles(public, "/feeds/exercise.atom") == ["【訓練】避難訓練"]
    drill_feed = etree.fromstring(public.get("/feeds/exercise.atom").data)
    assert [s.text for s in drill_feed.iter(f"{CAP}status")] == ["Exercise"]
    assert public.get("/feeds/exercise.rss").status_code == 404
    rss = etree.fromstring(public.get("/feeds/all.rss").data)
    assert [t.text for t in rss.iter("title")][1:] == ["断水のお知らせ"]
    assert public.get("/feeds/nonexistent.atom").status_code == 404

    cap_index = etree.fromstring(public.get("/feeds/cap.atom").data)
    statuses = [s.text for s in cap_index.iter(f"{CAP}status")]
    assert statuses == ["Actual"]
    assert _cap(public, live).findtext(f"{CAP}status") == "Actual"
    drill_cap = _cap(public, drill)
    assert drill_cap.findtext(f"{CAP}status") == "Exercise"
    assert drill_cap.findtext(f"{CAP}info/{CAP}headline", "").startswith("【訓練】")


def test_cancel_references_the_original(client: FlaskClient) -> None:
    original = create_approved(client, title="断水のお知らせ", channels=["rss"])["message_id"]
    cancel = create(client, title="断水のお知らせ（取消）", body="先ほどのお知らせは誤りでした。",
                    channels=["rss"], msg_type="cancel", references=original)
    assert cancel.status_code == 201, cancel.json
    cancel_id = body(cancel)["message_id"]
    # Its own words, not the prepared text: a second person first.
    assert body(cancel)["state"] == "awaiting_approval"
    assert client.post(f"/api/v1/messages/{cancel_id}/approve", headers=bearer("bousai2")).status_code == 200

    first = _cap(client, original)
    alert = _cap(client, cancel_id)
    assert alert.findtext(f"{CAP}msgType") == "Cancel"
    expected = ",".join(first.findtext(f"{CAP}{tag}", "") for tag in ("sender", "identifier", "sent"))
    assert alert.findtext(f"{CAP}references") == expected

    entries = etree.fromstring(client.get("/feeds/all.atom").data).findall(f"{ATOM}entry")
    related = [link.get("href") for e in entries for link in e.findall(f"{ATOM}link")
               if link.get("rel") == "related"]
    page_path = public_path(client.application.extensions["hub"], original)
    assert related == [f"{client.application.config['HUB_SETTINGS'].public_url}{page_path}"]
    page = client.get(page_path).get_data(as_text=True)
    assert "この情報は取り消されました" in page
