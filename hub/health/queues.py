"""How many tasks wait in the broker, per queue: Redis list lengths, or the file broker's folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import redis

from hub.config import Settings

log = logging.getLogger(__name__)
PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport keeps priorities 3, 6, 9 in lists of their own
PRIORITIES = ("3", "6", "9")


def broker_depths(settings: Settings, queues: Iterable[str]) -> dict[str, int | None]:
    """Tasks waiting per queue; None where the broker cannot be read (it is away, or of another kind)."""
    names = list(dict.fromkeys(queues))
    url = settings.broker_url
    try:
        if url.startswith(("redis://", "rediss://")):
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            try:
                pipe = client.pipeline()
                for name in names:
                    for key in (name, *(f"{name}{PRIORITY_SEP}{p}" for p in PRIORITIES)):
                        pipe.llen(key)
                lengths = pipe.execute()
            finally:
                client.close()
            per = 1 + len(PRIORITIES)
            return {name: int(sum(lengths[i * per:(i + 1) * per])) for i, name in enumerate(names)}
        if url.startswith("filesystem://"):
            folder = settings.broker_folder / "queue"
            files = os.listdir(folder) if folder.is_dir() else []
            # kombu names a message file "<ms>_<uuid>.<queue>.msg" and matches on what follows the first dot.
            found = [f.partition(".")[2] for f in files]
            return {name: sum(1 for f in found if f == f"{name}.msg") for name in names}
    except (OSError, redis.RedisError) as exc:
        log.warning("broker queue depth not readable: %s", exc)
    return dict.fromkeys(names)
