"""Every page and form of the console and the residents' pages, sent odd values: never a 500.

The API has its own fuzzer (tests/api/test_fuzz.py, from its OpenAPI document); the console's forms
have none, so this walks every route of the app with a fixed seed: made-up ids, empty, huge, NUL,
full-width and markup values in the fields the forms use, with a valid CSRF token so the handlers
themselves are reached. Signed in as the administrator (who reaches every handler) and signed out.
Found: a user name with NUL on the login form was a 500 on PostgreSQL.
"""

from __future__ import annotations

import random
import re

from flask import Flask
from flask.testing import FlaskClient

from tests.api.support import csrf, login, seed

ODD = ["", "0", "-1", "99999999999999999999", "x" * 3000, "<script>alert(1)</script>", "１２３", "a\x00b",
       "2026-13-45T99:99", "all", "department:nosuch", "category:", "area:", "sms,email,line", "actual", "exercise",
       "yes", "on", "[]", "{}", "../../etc/passwd", "' OR 1=1 --", "😀"]
FIELDS = ["title", "body", "channels", "audience", "mode", "category", "department", "reason", "confirm",
          "username", "password", "name", "code", "email", "phone", "q", "mail", "kind", "schedule", "scheduled_at",
          "language", "choice", "value", "areas", "categories", "note", "sms_sender", "voice_sender", "role",
          "confirm_actual", "confirm_erase", "text", "step", "display_name", "departments", "question", "choices"]
IDS = ["1", "2", "0", "999999", "abc", "4294967296"]
MIXES = 5  # random mixes per route, after one pass of each odd value in every field


def _walk(app: Flask, client: FlaskClient, who: str | None) -> list[tuple[str, str, int]]:
    rng = random.Random(f"forms-{who}")
    failures = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        # Callbacks are the providers' signed requests (fuzzed in tests/core/test_callbacks.py), the
        # API has its own fuzzer, and signing out would end the walk.
        if rule.endpoint == "static" or rule.rule.startswith(("/callbacks", "/api")) or "logout" in rule.rule:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            trials = [dict.fromkeys(FIELDS, value) for value in ODD]
            trials += [{name: rng.choice(ODD) for name in rng.sample(FIELDS, 8)} for _ in range(MIXES)]
            for fields in trials:
                path = re.sub(r"<[^>]+>", lambda _m: rng.choice(IDS), rule.rule)
                if who is not None:
                    try:
                        fields["csrf_token"] = csrf(client)
                    except KeyError:  # a handler ended the session (a password changed): sign in again
                        login(client, who)
                        fields["csrf_token"] = csrf(client)
                else:
                    client.get("/login")
                    fields["csrf_token"] = csrf(client)
                answer = (client.get(path, query_string=fields) if method == "GET"
                          else client.open(path, method=method, data=fields))
                if answer.status_code >= 500:
                    failures.append((method, path, answer.status_code))
    return failures


def test_no_page_or_form_answers_odd_input_with_a_500(app: Flask) -> None:
    seed(app)
    signed_in = app.test_client()
    login(signed_in, "admin")
    failures = _walk(app, signed_in, "admin") + _walk(app, app.test_client(), None)
    assert failures == [], failures[:10]
