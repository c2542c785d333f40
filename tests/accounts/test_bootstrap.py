"""No default account outside the demo: the first admin comes from `hub admin bootstrap`, once; the demo's
seed refuses to run in production, however HUB_ENV is capitalised."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from hub.cli import main
from hub.config import Settings, sandbox_env
from hub.models import ApiToken, Operator
from hub.runtime import Runtime
from tests.accounts.support import audit_actions, invoke, login_form, one_time_password


def test_bootstrap_creates_the_first_admin_once(app: Flask, runtime: Runtime) -> None:
    first = invoke(app, "admin", "bootstrap", "--username", "kanri", "--display-name", "管理 者")
    assert first.exit_code == 0, first.output
    secret = one_time_password(first.output)
    with runtime.session() as s:
        admin = s.scalar(select(Operator).where(Operator.username == "kanri"))
        assert admin is not None and admin.is_admin and admin.must_change_password
        assert secret not in (admin.password_hash or "")
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 0  # no token exists by default
    again = invoke(app, "admin", "bootstrap", "--username", "kanri2", "--display-name", "二人目")
    assert again.exit_code != 0 and "すでに" in again.output
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Operator)) == 1
    assert login_form(app.test_client(), "kanri", secret).headers["Location"].endswith("/password")
    assert [(a, b) for a, b, _d in audit_actions(app, "operator.")] == [("system", "operator.create")]


@pytest.mark.parametrize("env", ["production", "Production", " PRODUCTION "])
def test_seed_and_demo_refuse_in_production(app: Flask, runtime: Runtime, env: str) -> None:
    seed = invoke(app, "seed", "--residents", "3", "--staff", "1", env={"HUB_ENV": env})
    assert seed.exit_code != 0 and "本番環境" in seed.output
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Operator)) == 0
    # `hub demo` stops before it starts anything (no sandbox, no worker, no database).
    demo = CliRunner().invoke(main, ["demo", "--residents", "3"], env={"HUB_ENV": env})
    assert demo.exit_code != 0 and "本番環境" in demo.output


def test_seed_still_works_outside_production(app: Flask, runtime: Runtime) -> None:
    assert invoke(app, "seed", "--residents", "3", "--staff", "1", env={"HUB_ENV": "development"}).exit_code == 0
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Operator)) == 3


@pytest.mark.parametrize("env", ["production", "Production", "PRODUCTION"])
def test_is_production_ignores_case(env: str, tmp_path: Path) -> None:
    assert Settings(env=env).is_production
    assert Settings.from_env({"HUB_ENV": env}).is_production
    assert not Settings(env="development").is_production
    # A production hub never picks up a running sandbox's settings, whatever the spelling.
    (tmp_path / "sandbox.env").write_text("HUB_TWILIO_BASE_URL=http://127.0.0.1:8025\n", encoding="utf-8")
    assert sandbox_env({"HUB_ENV": "development", "HUB_DATA_DIR": str(tmp_path)})
    assert sandbox_env({"HUB_ENV": env, "HUB_DATA_DIR": str(tmp_path)}) == {}
