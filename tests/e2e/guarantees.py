"""What the delivery-guarantee tests share: residents in bulk, and the checks against the sandbox inbox."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from sqlalchemy import insert, select

from hub.models import Consent, Contact, Delivery, DeliveryState
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.support.hubtools import rows

BUSY = {DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.CHECKING}
REACHED = {DeliveryState.SENT, DeliveryState.DELIVERED}


def phone(n: int) -> str:
    return f"+8190{40000000 + n}"


def line_user(n: int) -> str:
    return f"U{n:032x}"


def add_residents(runtime: Runtime, n: int) -> None:
    """``n`` residents with a mobile number, a mailbox and LINE, each consenting to every channel."""
    with runtime.session() as session:
        session.execute(insert(Contact), [
            {"kind": "resident", "name": f"住民{i}", "phone": phone(i), "email": f"r{i}@example.jp",
             "line_user_id": line_user(i)}
            for i in range(n)
        ])
        ids = session.scalars(select(Contact.id)).all()
        session.execute(insert(Consent), [
            {"contact_id": cid, "channel": channel, "source": "test"}
            for cid in ids for channel in ("sms", "voice", "email", "line")
        ])


def busy_rows(runtime: Runtime, message_id: int) -> int:
    with runtime.session() as session:
        return len(session.scalars(select(Delivery.id).where(
            Delivery.message_id == message_id, Delivery.state.in_(BUSY))).all())


def wait_finished(runtime: Runtime, message_id: int, timeout: float,
                  also: Callable[[], None] | None = None) -> None:
    """Until no row is pending, being sent or being checked; the workers' own sweepers do the rest."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rows(runtime, message_id) and busy_rows(runtime, message_id) == 0:
            return
        if also is not None:
            also()
        time.sleep(0.5)
    states = Counter(r.state for r in rows(runtime, message_id))
    raise AssertionError(f"message {message_id} not finished within {timeout}s: {dict(states)}")


def copies(sandbox_client: SandboxClient, channel: str) -> Counter[str]:
    return Counter(item["to"] for item in sandbox_client.inbox(channel))


def inbox_address(row: Delivery) -> str:
    """Where the sandbox files a row's copy: a post on X goes to the public timeline."""
    return "public" if row.channel == "x" else row.address


def assert_each_reached_exactly_once(runtime: Runtime, sandbox_client: SandboxClient, message_id: int,
                                     channel: str) -> list[Delivery]:
    """Every row the hub calls sent/delivered is in the inbox once; no address twice; nothing else there."""
    final = rows(runtime, message_id, channel)
    received = copies(sandbox_client, channel)
    twice = {a: n for a, n in received.items() if n > 1}
    assert not twice, f"second copies on {channel}: {list(twice.items())[:5]}"
    reached = {inbox_address(r) for r in final if r.state in REACHED}
    unknown = {inbox_address(r) for r in final if r.state == DeliveryState.UNKNOWN}
    assert reached <= set(received), f"{channel}: rows marked sent that the provider never got"
    assert set(received) - reached - unknown == set(), f"{channel}: recipients reached but recorded otherwise"
    return final
