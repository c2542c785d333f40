"""A resident survey through real workers, Redis and PostgreSQL: sent by SMS and LINE to a demo city's
residents, answered by SMS reply and by LINE button (a webhook signed as LINE signs it), tallied by area
with the non-responders known."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from hub.demo.seed import seed_demo
from hub.models import Contact, Message, MessageState
from hub.residents import survey_tally
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.support.hubtools import counts, rows, send, wait_for
from tests.support.worker import WorkerProcess
from tests.surveys.support import QUESTION, press, sms_reply

pytestmark = pytest.mark.slow
LABELS = {"1": "はい", "2": "いいえ"}


def test_survey_by_sms_and_line_through_workers_is_tallied_by_area(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: type[WorkerProcess]
) -> None:
    with stack_runtime.session() as session:
        seed_demo(session, residents=120, staff=0)
    worker_factory().start()
    message_id = send(stack_runtime, channels=["sms", "line"], audience="residents", question=QUESTION)

    def done() -> bool:  # every page planned and every row settled (counts alone can be read between pages)
        with stack_runtime.session() as s:
            state = s.scalar(select(Message.state).where(Message.id == message_id))
        return state == MessageState.DONE and all(c["pending"] == 0 for c in counts(stack_runtime, message_id).values())

    wait_for(done, timeout=120, interval=0.5)
    reached = [r for r in rows(stack_runtime, message_id) if r.state in ("sent", "delivered")]
    by_sms = [r for r in reached if r.channel == "sms"][:20]
    by_line = [r for r in reached if r.channel == "line" and r.contact_id not in {s.contact_id for s in by_sms}][:20]
    assert len(by_sms) == len(by_line) == 20, counts(stack_runtime, message_id)
    expected: dict[int, str] = {}
    for n, r in enumerate(by_sms):
        key = "1" if n % 3 else "2"
        assert sms_reply(stack_runtime, r.address, key, sid=f"SM{n}"), r.address
        expected[r.contact_id or 0] = key
    for n, r in enumerate(by_line):
        key = "2" if n % 4 else "1"
        press(sandbox_client, r.address, LABELS[key])
        expected[r.contact_id or 0] = key

    with stack_runtime.session() as s:
        message = s.get(Message, message_id)
        assert message is not None
        tally = survey_tally.tally(s, message)
        areas = {c.id: [a.name for a in c.areas] for c in s.scalars(select(Contact).where(Contact.id.in_(expected)))}
    assert tally is not None
    assert tally["answered"] == 40 and tally["channels"] == {"sms": 20, "line": 20}
    assert tally["unanswered"] == tally["reached"] - 40 > 0
    want: Counter[tuple[str, str]] = Counter((area, key) for cid, key in expected.items() for area in areas[cid])
    got = Counter({(a["name"], k): n for a in tally["areas"] for k, n in a["counts"].items() if n})
    assert got == want
