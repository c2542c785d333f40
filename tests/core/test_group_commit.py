"""Callbacks arriving together share a transaction, and none is answered before its row is durable."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from hub.groupcommit import GroupCommit


def test_concurrent_rows_share_writes_and_each_caller_returns_after_its_own_row_is_written() -> None:
    committed: list[int] = []
    groups: list[int] = []

    def write(rows: Sequence[dict[str, Any]]) -> None:
        time.sleep(0.02)  # a commit takes a while: rows arriving meanwhile queue for the next group
        groups.append(len(rows))
        committed.extend(r["n"] for r in rows)

    writer = GroupCommit(write)
    returned_early: list[int] = []

    def post(n: int) -> None:
        writer.submit({"n": n})
        if n not in committed:
            returned_early.append(n)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads), "a caller was left waiting"
    assert sorted(committed) == list(range(40)), "every row written exactly once"
    assert returned_early == []
    assert len(groups) < 40 and max(groups) > 1, groups


def test_a_failed_write_is_raised_to_every_caller_of_its_group_and_the_next_group_still_goes() -> None:
    calls: list[list[int]] = []
    gate = threading.Event()

    def write(rows: Sequence[dict[str, Any]]) -> None:
        calls.append([r["n"] for r in rows])
        if len(calls) == 1:
            gate.wait(5)  # the first write holds while the others queue behind it
            raise ConnectionError("database went away")

    writer = GroupCommit(write)
    outcomes: dict[int, str] = {}

    def post(n: int) -> None:
        try:
            writer.submit({"n": n})
            outcomes[n] = "ok"
        except ConnectionError:
            outcomes[n] = "error"

    first = threading.Thread(target=post, args=(0,))
    first.start()
    while not calls:
        time.sleep(0.001)
    others = [threading.Thread(target=post, args=(n,)) for n in (1, 2, 3)]
    for t in others:
        t.start()
    time.sleep(0.05)
    gate.set()
    for t in [first, *others]:
        t.join(5)
    assert outcomes == {0: "error", 1: "ok", 2: "ok", 3: "ok"}
    assert calls[0] == [0] and sorted(n for group in calls[1:] for n in group) == [1, 2, 3]


def test_one_caller_alone_writes_its_row_at_once() -> None:
    seen: list[Sequence[dict[str, Any]]] = []
    GroupCommit(seen.append).submit({"n": 1})
    assert seen == [[{"n": 1}]]
    with pytest.raises(ZeroDivisionError):
        GroupCommit(lambda rows: 1 / 0).submit({"n": 2})  # type: ignore[func-returns-value]
