"""Every console page passes axe-core (run inside the page in a real Chromium) with no serious or
critical violation. axe-core comes from its npm package (`make test` fetches it into .venv/axe)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hub.config import Settings
from hub.residents.links import ANSWER, ResidentLink, url_for
from tests.api.support import body, create, seed
from tests.support.hubtools import public_path
from tests.support.services import in_ci
from tests.web.test_browser import browser, sign_in  # noqa: F401  (the Chromium fixture)

AXE = Path(__file__).resolve().parents[2] / ".venv" / "axe" / "axe.min.js"
SERIOUS = {"serious", "critical"}


def _axe_source() -> str:
    if not AXE.exists():
        if in_ci():
            pytest.fail(f"{AXE} is missing; `make test` fetches axe-core from the npm registry")
        pytest.skip(f"{AXE} is missing (run `make test` or `make .venv/axe/axe.min.js`)")
    return AXE.read_text(encoding="utf-8")


def _violations(web: Any, source: str) -> list[dict[str, Any]]:
    web.execute_script(source)
    result = web.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(JSON.stringify(r.violations)))"
        ".catch(e => done(JSON.stringify([{impact: 'critical', id: 'axe-error', help: String(e)}])));")
    found: list[dict[str, Any]] = json.loads(result)
    return [v for v in found if v.get("impact") in SERIOUS]


def test_every_console_page_has_no_serious_accessibility_violation(
        app: Flask, settings: Settings, browser: Any) -> None:  # noqa: F811
    source = _axe_source()
    seed(app)
    client = app.test_client()
    message_id = body(create(client, mode="exercise", audience="residents",
                             question={"text": "避難していますか", "choices": ["はい", "いいえ"]}))["message_id"]
    # Texts per language: the message page's translation states and each language's text.
    translated_id = body(create(client, mode="exercise", audience="residents", texts={
        "en": {"title": "Checkup", "body": "Bring your card.", "origin": "machine"},
        "vi": {"title": "健診", "body": "Important information …\n本文", "origin": "fallback", "error": "HTTP 500"}}))["message_id"]
    base = settings.public_url.rstrip("/")
    web = browser
    web.set_script_timeout(60)

    pages = {"/login": _violations_at(web, f"{base}/login", source)}
    sign_in(web, base, "admin")
    for path in ("/", "/compose", f"/messages/{message_id}", "/scheduled", "/callouts", "/callouts/new", "/jma", "/tokens",
                 "/admin", "/admin/operators", "/admin/operators/bousai1", "/admin/d/departments",
                 "/admin/d/categories", "/admin/d/categories/bousai",
                 "/admin/audit", "/admin/settings", "/rules", "/templates", "/contacts", "/notices/csv",
                 public_path(app.extensions["hub"], message_id), f"/messages/{translated_id}"):
        pages[path] = _violations_at(web, f"{base}{path}", source)
    answer = url_for(settings, ResidentLink(ANSWER, 1, "email", message_id))  # the survey's answer page
    pages["/r/a/…"] = _violations_at(web, answer, source)
    problems = {path: [f"{v['id']} ({v['impact']}): {v.get('help')}" for v in found]
                for path, found in pages.items() if found}
    assert problems == {}


def _violations_at(web: Any, url: str, source: str) -> list[dict[str, Any]]:
    web.get(url)
    return _violations(web, source)
