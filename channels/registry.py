"""Finds channel adapters through the ``hub.channels`` entry-point group.

The core never imports an adapter module by name: a channel added in another package (a
domestic SMS gateway, a municipal app) appears here once it is installed with an entry point.
"""

from __future__ import annotations

import functools
import logging
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from channels.base import Channel, ChannelConfig, ChannelContext

if TYPE_CHECKING:
    from hub.config import Settings

GROUP = "hub.channels"
log = logging.getLogger(__name__)


class UnknownChannel(KeyError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.message = f"チャネル「{name}」は登録されていません（利用可能: {', '.join(known) or 'なし'}）"

    def __str__(self) -> str:
        return self.message


def _entry_points() -> list[EntryPoint]:
    return sorted(entry_points(group=GROUP), key=lambda ep: ep.name)


def _load(ep: EntryPoint) -> type[Channel] | None:
    try:
        cls = ep.load()
    except Exception:
        # One broken plugin must not take every other channel down with it.
        log.exception("channel %s (%s) could not be loaded", ep.name, ep.value)
        return None
    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        log.error("channel %s points at %r, which is not a Channel subclass", ep.name, cls)
        return None
    return cls


@functools.cache
def _installed() -> dict[str, type[Channel]]:
    # Read once per process: scanning every installed package's metadata costs milliseconds, and
    # the core asks for the channels on every message; a newly installed plugin needs a restart.
    found: dict[str, type[Channel]] = {}
    for ep in _entry_points():
        cls = _load(ep)
        if cls is not None:
            found[ep.name] = cls
    return found


def available() -> dict[str, type[Channel]]:
    """Every installed channel that loads, by entry-point name."""
    return dict(_installed())


def preload() -> None:
    """Import every channel and the provider SDKs now (call it in a worker's parent process).

    The SDKs are imported on first use, and a prefork worker child that had to do it paid about
    1.4 s of CPU at the start of its first batch (the LINE SDK's pydantic models alone 0.8 s):
    with 4 children, a fifth of a 10,000-SMS fan-out on 2 cores. Imported before the fork, the
    children share them.
    """
    available()
    import channels.clients  # noqa: F401  (the SDK factories, and the SDKs with them)


def channel_class(name: str) -> type[Channel]:
    cls = _installed().get(name)
    if cls is None:
        raise UnknownChannel(name, sorted(available()))
    return cls


def config_for(cls: type[Channel], settings: Settings) -> ChannelConfig:
    from_settings = getattr(cls.config_class, "from_settings", None)
    if from_settings is None:
        return cls.config_class()
    config = from_settings(settings)
    assert isinstance(config, ChannelConfig)
    return config


def build(name: str, settings: Settings, context: ChannelContext | None = None) -> Channel:
    """A ready adapter for ``name``, configured from ``settings`` (sandbox or live)."""
    cls = channel_class(name)
    if context is None:
        context = ChannelContext(public_url=settings.public_url, timeout=settings.provider_timeout,
                                 requests_in_flight=settings.requests_in_flight)
    return cls(config_for(cls, settings), context)
