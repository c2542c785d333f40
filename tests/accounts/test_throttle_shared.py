"""Login throttling shared through the real Redis: failures at one web process lock the account at another."""

from __future__ import annotations

import time
import uuid

from flask import Flask
from flask.testing import FlaskClient

from hub.accounts.throttle import LoginThrottle, RedisFailures, SharedOrLocal
from hub.app import create_app
from tests.accounts.support import login_form
from tests.api.support import PASSWORDS
from tests.support.services import REDIS_URL, redis_reachable, require


def _shared(prefix: str, window: float = 900.0) -> LoginThrottle:
    return LoginThrottle(RedisFailures(REDIS_URL, prefix=prefix, window=window))


def test_two_app_instances_share_the_failure_counts(client: FlaskClient, app: Flask) -> None:
    require("Redis", redis_reachable())
    prefix = f"hubtest:login:{uuid.uuid4().hex}:"  # never another run's (or the e2e stack's) counts
    other = create_app(app.extensions["hub"].settings)
    app.extensions["hub"].login_throttle = _shared(prefix)
    other.extensions["hub"].login_throttle = _shared(prefix)
    for n in range(5):
        assert login_form(app.test_client(), "bousai1", f"wrong-{n}", address=f"10.1.0.{n}").status_code == 401
    with other.app_context():
        refused = login_form(other.test_client(), "bousai1", PASSWORDS["bousai1"], address="10.1.1.1")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 14 * 60
        assert login_form(other.test_client(), "bousai2", PASSWORDS["bousai2"], address="10.1.1.1"
                          ).status_code == 302


def test_shared_address_lock_and_its_window(client: FlaskClient, app: Flask) -> None:
    require("Redis", redis_reachable())
    prefix = f"hubtest:login:{uuid.uuid4().hex}:"
    app.extensions["hub"].login_throttle = LoginThrottle(RedisFailures(REDIS_URL, prefix=prefix, window=4.0),
                                                         address_limit=3)
    for n in range(3):
        login_form(app.test_client(), f"someone{n}", "guess-guess-guess", address="198.51.100.4")
    assert login_form(app.test_client(), "bousai2", PASSWORDS["bousai2"], address="198.51.100.4"
                      ).status_code == 429
    time.sleep(4.1)
    assert login_form(app.test_client(), "bousai2", PASSWORDS["bousai2"], address="198.51.100.4"
                      ).status_code == 302


def test_without_redis_logins_still_work_and_are_throttled_in_the_process(client: FlaskClient, app: Flask) -> None:
    # Nothing listens on port 1: every Redis call fails at once.
    app.extensions["hub"].login_throttle = LoginThrottle(SharedOrLocal(RedisFailures("redis://127.0.0.1:1/0")))
    assert login_form(app.test_client(), "bousai2", PASSWORDS["bousai2"]).status_code == 302
    for n in range(5):
        assert login_form(app.test_client(), "bousai1", f"wrong-{n}").status_code == 401
    assert login_form(app.test_client(), "bousai1", PASSWORDS["bousai1"]).status_code == 429
