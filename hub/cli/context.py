"""Shared CLI plumbing: one Flask app (and so one Runtime) per command invocation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask import Flask

from hub.runtime import Runtime

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
