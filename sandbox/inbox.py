"""What each recipient received, and how often each endpoint was called.

Everything lives in memory: a benchmark pushes 100,000 copies through here, so an item is a
slotted object turned into a dict only when read, and lookups by channel or address go through
indexes kept under one lock instead of scanning the whole list.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class InboxItem:
    __slots__ = ("channel", "from_", "html", "meta", "provider_id", "received_at", "subject", "text", "to")

    def __init__(
        self,
        channel: str,
        to: str,
        from_: str,
        text: str,
        provider_id: str,
        *,
        subject: str | None = None,
        html: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.channel = channel
        self.to = to
        self.from_ = from_
        self.text = text
        self.subject = subject
        self.html = html
        self.provider_id = provider_id
        self.received_at = utc_now_iso()
        self.meta: dict[str, Any] = meta if meta is not None else {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "to": self.to,
            "from": self.from_,
            "text": self.text,
            "subject": self.subject,
            "html": self.html,
            "provider_id": self.provider_id,
            "received_at": self.received_at,
            "meta": dict(self.meta),
        }


class Inbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[InboxItem] = []
        self._by_channel: dict[str, list[InboxItem]] = {}
        self._by_to: dict[str, list[InboxItem]] = {}
        self._by_channel_to: dict[tuple[str, str], list[InboxItem]] = {}

    def add(self, item: InboxItem) -> InboxItem:
        with self._lock:
            self._index(item)
        return item

    def add_many(self, items: list[InboxItem]) -> None:
        with self._lock:
            for item in items:
                self._index(item)

    def _index(self, item: InboxItem) -> None:
        self._items.append(item)
        self._by_channel.setdefault(item.channel, []).append(item)
        self._by_to.setdefault(item.to, []).append(item)
        self._by_channel_to.setdefault((item.channel, item.to), []).append(item)

    def query(
        self, channel: str | None = None, to: str | None = None, limit: int | None = None
    ) -> list[InboxItem]:
        """Items in the order received; ``limit`` keeps the most recent ones."""
        with self._lock:
            if channel and to:
                found = self._by_channel_to.get((channel, to), [])
            elif channel:
                found = self._by_channel.get(channel, [])
            elif to:
                found = self._by_to.get(to, [])
            else:
                found = self._items
            if limit is not None:
                return found[-limit:] if limit > 0 else []
            return list(found)

    def count(self, channel: str | None = None) -> int:
        with self._lock:
            if channel:
                return len(self._by_channel.get(channel, []))
            return len(self._items)

    def update_meta(self, item: InboxItem, **changes: Any) -> None:
        # Replace rather than mutate: a reader copying the old dict outside the lock stays safe.
        with self._lock:
            item.meta = {**item.meta, **changes}

    def clear(self) -> None:
        with self._lock:
            self._items = []
            self._by_channel = {}
            self._by_to = {}
            self._by_channel_to = {}


class Stats:
    """Request counters per endpoint name, e.g. ``twilio.messages.create``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def incr(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counts[name] += by

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
