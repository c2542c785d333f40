"""Every response carries the security headers, and the pages work under that CSP: nothing
inline that the policy would block (scripts and styles come from /static only)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from hub.models.relay import CalloutTarget
from hub.relay.clock import now
from hub.relay.links import AnswerLink, answer_url
from hub.runtime import Runtime
from tests.api.support import bearer, create_approved, login
from tests.relay.support import seed_staff, start
from tests.support.hubtools import public_path

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
# What default-src 'self' would block in a page: inline <style>, style="…", inline handlers, and
# <script> that is neither a file from our origin nor a JSON data block.
BLOCKED = [
    (re.compile(r"<style", re.I), "inline <style>"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"<script(?![^>]*\bsrc=\"/static/)(?![^>]*type=\"application/json\")", re.I), "inline script"),
    (re.compile(r"(src|href)=\"(https?:)?//", re.I), "a resource from another origin"),
]


def assert_secure(response_headers: object, path: str) -> None:
    headers = dict(response_headers)  # type: ignore[call-overload]
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, f"{path}: {name}"
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path


def assert_csp_clean(html: str, path: str) -> None:
    for pattern, what in BLOCKED:
        match = pattern.search(html)
        assert match is None, f"{path}: {what} would be blocked by the CSP: {html[match.start():match.start() + 80]!r}"


def test_every_kind_of_response_carries_the_headers(client: FlaskClient) -> None:
    message_id = create_approved(client)["message_id"]
    paths = ["/login", "/healthz", "/feeds/kenko.atom", "/feeds/cap.atom", "/api/v1/openapi.json",
             "/api/v1/messages", "/no-such-page", "/static/hub.css", "/relay/a/not-a-token",
             f"/api/v1/messages/{message_id}/deliveries.csv"]
    for path in paths:
        response = client.get(path, headers=bearer() if path.startswith("/api/v1/messages") else {})
        assert_secure(response.headers, path)
        response.close()  # the CSV is streamed: end it inside the test, not at garbage collection
    assert_secure(client.post("/callbacks/twilio/status?d=1").headers, "callback 403")


@pytest.mark.usefixtures("sandbox_client")
def test_the_operator_and_staff_pages_have_nothing_inline(client: FlaskClient, runtime: Runtime) -> None:
    message_id = create_approved(client)["message_id"]
    seed_staff(runtime, 4)
    callout_id = start(runtime, departments="all")
    login(client, "admin")
    with runtime.session() as s:
        target = s.query(CalloutTarget).filter_by(callout_id=callout_id).first()
        assert target is not None
        answer = answer_url(runtime.settings, AnswerLink(callout_id, target.id, "sms"), now())
    pages = ["/", "/compose", f"/messages/{message_id}", f"/relay/callouts/{callout_id}",
             public_path(runtime, message_id),
             answer.removeprefix(runtime.settings.public_url.rstrip("/"))]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_secure(response.headers, path)
        assert_csp_clean(response.get_data(as_text=True), path)


def test_the_checker_catches_what_the_csp_would_block() -> None:
    for html in ['<style>p{}</style>', '<p style="x">', '<a onclick="x()">', '<script>alert(1)</script>',
                 '<script src="https://cdn.example/x.js"></script>']:
        with pytest.raises(AssertionError):
            assert_csp_clean(html, "sample")
    assert_csp_clean('<script src="/static/a.js" defer></script><script type="application/json" id="c">{}'
                     '</script><link rel="stylesheet" href="/static/hub.css">', "sample")
