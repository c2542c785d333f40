"""Feeds and the links in them name the hub by HUB_PUBLIC_URL, whatever Host header a request forges."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.api.support import body, create, create_approved

FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}


def test_feeds_ignore_a_forged_host_header(client: FlaskClient) -> None:
    message_id = create_approved(client, title="断水のお知らせ", channels=["rss"])["message_id"]
    drill = body(create(client, title="避難訓練", channels=["rss"], mode="exercise", audience="residents"))
    public_url = client.application.config["HUB_SETTINGS"].public_url.rstrip("/")
    public = client.application.test_client()
    for path in ["/feeds/all.atom", "/feeds/kenko.rss", "/feeds/cap.atom", "/feeds/exercise.atom",
                 f"/feeds/cap/{message_id}.xml", f"/feeds/cap/{drill['message_id']}.xml"]:
        response = public.get(path, headers=FORGED)
        assert response.status_code == 200, path
        text = response.get_data(as_text=True)
        assert "evil.example" not in text, path
        links = re.findall(r'(?:href="|<link>|<web>)(https?://[^"<]+)', text)
        assert links and all(link.startswith(public_url + "/") for link in links), (path, links)
    atom = public.get("/feeds/all.atom?x=1", headers=FORGED).get_data(as_text=True)
    assert f'href="{public_url}/feeds/all.atom?x=1"' in atom  # the self link too
