"""Shared CLI plumbing: one Flask app (and so one Runtime) per command invocation."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask import Flask

from hub.policy import Action, Forbidden, Principal, require
from hub.runtime import Runtime

TOKEN_ENV = "HUB_TOKEN"

F = TypeVar("F", bound=Callable[..., Any])


class HubContext:
    def __init__(self) -> None:
        self._app: Flask | None = None

    @property
    def app(self) -> Flask:
        if self._app is None:
            from hub.app import create_app

            self._app = create_app()
        return self._app

    @property
    def runtime(self) -> Runtime:
        rt: Runtime = self.app.extensions["hub"]
        return rt

    @property
    def principal(self) -> Principal:
        """The operator whose API token is in ``HUB_TOKEN``: the CLI obeys the same policy as the API."""
        from hub.accounts import principal_for_token

        token = os.environ.get(TOKEN_ENV, "").strip()
        with self.runtime.session() as s:
            principal = (principal_for_token(s, token, production=self.runtime.settings.is_production)
                         if token else None)
        if principal is None:
            raise click.ClickException(
                f"操作する担当者の有効なAPIトークンを環境変数 {TOKEN_ENV} に設定してください"
                f" (Set {TOKEN_ENV} to a valid API token of the operator acting)."
            )
        return principal

    def authorized(self, action: Action, department_id: int | None = None) -> Principal:
        """The ``HUB_TOKEN`` operator, if the policy lets them do ``action``; a non-zero exit otherwise."""
        try:
            return require(self.principal, action, department_id)
        except Forbidden as exc:
            raise click.ClickException(str(exc)) from exc


def pass_hub(func: F) -> F:
    """Give the command a HubContext and run it inside the app context (tasks need it)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        hub_ctx = ctx.find_object(HubContext)
        if hub_ctx is None:
            hub_ctx = ctx.ensure_object(HubContext)
        with hub_ctx.app.app_context():
            return func(hub_ctx, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
