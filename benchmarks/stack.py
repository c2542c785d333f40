"""The full stack the benchmarks drive, on this machine: a fresh PostgreSQL schema, Redis, the sandbox
in its own process, gunicorn taking the status callbacks, and the worker nodes `hub worker` runs;
with residents to send to and the helpers that send and watch.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from measure import pids_named, process_tree  # noqa: E402
from sqlalchemy import select  # noqa: E402

from hub.app import create_app  # noqa: E402
from hub.cli.serve import worker_argv  # noqa: E402
from hub.compose.messages import Composition, approve, create_message  # noqa: E402
from hub.compose.status import channel_counts  # noqa: E402
from hub.config import Settings  # noqa: E402
from hub.demo.seed import seed_demo  # noqa: E402
from hub.dispatch.lanes import ALERTS  # noqa: E402
from hub.dispatch.tasks import release  # noqa: E402
from hub.migrate import upgrade  # noqa: E402
from hub.models import Contact, MessageState, MsgType, Operator, RecipientList  # noqa: E402
from hub.runtime import Runtime  # noqa: E402
from sandbox import SandboxClient, hub_settings  # noqa: E402
from tests.support.live import free_port  # noqa: E402
from tests.support.worker import settings_env  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SMS_SENDER = "+815011110001"  # the demo's 防災危機管理課 sender, which messages without a department use
BODY = "一斉配信の性能測定です。"
# An auth token of Twilio's real shape (32 hex digits) for the sandbox and the hub alike: Apprise
# (benchmarks/peers.py) refuses the sandbox's readable default before sending anything.
TWILIO_AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
# The sandbox in its own process, as `hub sandbox run` starts it, but with that token.
_SANDBOX_MAIN = """
import signal, sys, threading
from sandbox import Sandbox
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
box = Sandbox(http_port=int(sys.argv[1]), smtp_port=int(sys.argv[2]), twilio_auth_token=sys.argv[3]).start()
stop.wait()
box.stop()
"""


# -- the stack ------------------------------------------------------------------------------------

@dataclass
class Stack:
    settings: Settings
    app: Flask
    runtime: Runtime
    sandbox: SandboxClient
    db_url: str  # SQLAlchemy URL, search_path set to the run's own schema
    pg_url: str  # the same for psycopg
    schema: str
    workdir: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    web: subprocess.Popen[bytes] | None = None
    sandbox_proc: subprocess.Popen[bytes] | None = None

    @property
    def twilio_messages_url(self) -> str:
        """The sandbox's Twilio Messages endpoint (every SMS of every peer goes here)."""
        return f"{self.settings.twilio_base_url}/2010-04-01/Accounts/{self.settings.twilio_account_sid}/Messages.json"

    def cpu_parts(self) -> dict[str, Callable[[], list[int]]]:
        def tree(proc: subprocess.Popen[bytes] | None) -> Callable[[], list[int]]:
            return lambda: process_tree(proc.pid) if proc else []

        def workers() -> list[int]:
            return [pid for w in self.workers for pid in process_tree(w.pid)]
        return {
            "workers": workers,
            "workers (kernel part)": workers,
            "web (callbacks)": tree(self.web),
            "sandbox": tree(self.sandbox_proc),
            "postgresql (machine-wide)": lambda: pids_named("postgres"),
            "redis (machine-wide)": lambda: pids_named("redis-server"),
        }


@contextlib.contextmanager
def full_stack(*, workers: int = 1, concurrency: int = 4, reserved: int = 1, rate: float = 0, database_url: str = PG,
               redis_url: str = "redis://127.0.0.1:6379/14") -> Iterator[Stack]:
    """A fresh schema, the sandbox, gunicorn and Celery workers; everything removed on exit."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    base = database_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    options = f"options=-csearch_path%3D{schema}"
    db_url = f"{database_url}?{options}"
    redis.Redis.from_url(redis_url).flushdb()
    workdir = Path(f"/tmp/hub-bench-{schema}")
    workdir.mkdir(parents=True)
    http_port, smtp_port, web_port = free_port(), free_port(), free_port()
    settings = Settings(
        **{**cast(dict[str, Any], hub_settings(f"http://127.0.0.1:{http_port}", smtp_port)),
           "twilio_auth_token": TWILIO_AUTH_TOKEN},
        database_url=db_url, broker_url=redis_url, data_dir=str(workdir),
        public_url=f"http://127.0.0.1:{web_port}", batch_size=200,
        rate_sms=rate, rate_voice=rate, rate_email=rate, rate_line=rate, rate_x=rate,
        # The engine is measured, not the policy: an everyday notice started at night (JST) would
        # otherwise wait for the morning, as it should in service.
        quiet_hours="",
    ).resolved()
    env = settings_env(settings)
    procs: list[subprocess.Popen[bytes]] = []
    log = (workdir / "stack.log").open("ab")
    try:
        upgrade(db_url)
        app = create_app(settings)
        stack = Stack(settings, app, app.extensions["hub"], SandboxClient(settings.sandbox_url),
                      db_url, f"{base}?{options}", schema, workdir)
        stack.sandbox_proc = subprocess.Popen(
            [sys.executable, "-c", _SANDBOX_MAIN, str(http_port), str(smtp_port), TWILIO_AUTH_TOKEN],
            env=env, stdout=log, stderr=log, cwd=ROOT)
        stack.web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "8", "-b", f"127.0.0.1:{web_port}",
             "hub.app:create_app()"], env=env, stdout=log, stderr=log, cwd=ROOT)
        procs += [stack.sandbox_proc, stack.web]
        # The production worker command (`hub worker`), so the benchmark consumes whatever queues
        # the hub routes to; quieter logging and no gossip keep its own overhead out of the figures.
        quiet = ["--without-gossip", "--without-mingle", "--loglevel", "WARNING"]
        nodes = [worker_argv(settings, False, concurrency, node=f"all{i}") for i in range(workers)]
        if reserved:  # as `hub worker` runs them: slots only the alerts lane may use
            nodes.append(worker_argv(settings, False, reserved, (ALERTS,), "alerts"))
        stack.workers = [subprocess.Popen([*argv, *quiet], env=env, stdout=log, stderr=log, cwd=ROOT)
                         for argv in nodes]
        procs += stack.workers
        _wait_until(lambda: _up(stack.sandbox), 30)
        time.sleep(3)  # workers connect to the broker
        yield stack
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(workdir, ignore_errors=True)


# -- contacts ---------------------------------------------------------------------------------------

def bench_phone(i: int) -> str:
    """The i-th benchmark recipient: a valid Japanese mobile number (the sandbox refuses others)."""
    return f"+8190{10_000_000 + i:08d}"


def seed(stack: Stack, recipients: int, how: str, groups: tuple[int, ...] = ()) -> float:
    """The demo municipality with ``recipients`` residents; returns the seconds it took.

    ``demo``: the demo's own mix (not everyone has a mobile number, consent on each channel is
    95 %), as the figures of earlier versions were taken. ``copy``: every resident has a mobile
    number and SMS + LINE consent, inserted with PostgreSQL COPY (a million rows in seconds);
    each size in ``groups`` becomes a category ``benchN`` of the first N residents, so one seeded
    stack serves sends of several sizes.
    """
    t0 = time.perf_counter()
    with stack.runtime.session() as session:
        seed_demo(session, residents=recipients if how == "demo" else 0, staff=0)
    if how == "copy":
        _copy_residents(stack, recipients, groups)
    return time.perf_counter() - t0


def _copy_residents(stack: Stack, n: int, groups: tuple[int, ...]) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(stack.pg_url) as conn, conn.cursor() as cur:
        start = cur.execute("SELECT coalesce(max(id), 0) FROM contacts").fetchone()[0]  # type: ignore[index]
        with cur.copy("COPY contacts (id, external_id, kind, name, language, phone, line_user_id, "
                      "exercise_participant, active, created_at) FROM STDIN") as copy:
            for i in range(n):
                copy.write_row((start + 1 + i, f"B{i:07d}", "resident", f"住民{i}", "ja", bench_phone(i),
                                f"U{i:032x}", False, True, now))
        cur.execute("SELECT setval(pg_get_serial_sequence('contacts', 'id'), %s)", (start + n,))
        with cur.copy("COPY consents (contact_id, channel, given_at, source) FROM STDIN") as copy:
            for i in range(n):
                for channel in ("sms", "line"):
                    copy.write_row((start + 1 + i, channel, now, "benchmark"))
        for size in groups:
            category = cur.execute("INSERT INTO categories (code, name) VALUES (%s, %s) RETURNING id",
                                   (f"bench{size}", f"ベンチ{size}")).fetchone()[0]  # type: ignore[index]
            with cur.copy("COPY contact_categories (contact_id, category_id) FROM STDIN") as copy:
                for i in range(min(size, n)):
                    copy.write_row((start + 1 + i, category))
        conn.commit()
        cur.execute("ANALYZE")  # the planner must know the tables grew from nothing


# -- sending and watching ---------------------------------------------------------------------------

def checker(stack: Stack) -> int:
    """A second person (an admin) who approves the benchmark's live messages."""
    with stack.runtime.session() as session:
        op = session.scalar(select(Operator).where(Operator.username == "benchmark-approver"))
        if op is None:
            op = Operator(username="benchmark-approver", display_name="benchmark", is_admin=True)
            session.add(op)
            session.flush()
        return op.id


def send(stack: Stack, channels: list[str], audience: str, *, title: str = "ベンチマーク", body: str = BODY,
         msg_type: str = MsgType.ALERT) -> tuple[int, float]:
    """Create (and approve, when it waits for a second person) a message; returns (id, created at)."""
    approver = checker(stack)
    with stack.app.app_context():
        created = time.time()
        with stack.runtime.session() as session:
            message = create_message(session, stack.runtime, Composition(
                title=title, body=body, channels=channels, audience=audience, msg_type=msg_type))
            if message.state == MessageState.AWAITING_APPROVAL:
                approve(session, message, session.get(Operator, approver))  # type: ignore[arg-type]
            message_id, state = message.id, message.state
        release(message_id, state)
    return message_id, created


def warm_up(stack: Stack, channels: list[str], recipients: int = 1600) -> None:
    """One small send before anything is timed. A fresh worker's pool processes each take seconds
    over their first batch (imports, SDK clients, connections): production workers are long-lived,
    so a figure including that start-up would describe a restart, not a send."""
    with stack.runtime.session() as session:
        members = list(session.scalars(select(Contact).order_by(Contact.id).limit(recipients)))
        listed = RecipientList(name="benchmark-warm-up", members=members)
        session.add(listed)
        session.flush()
        list_id = listed.id
    message_id, _ = send(stack, channels, f"list:{list_id}", title="ウォームアップ")
    wait_done(stack, message_id, 300)
    time.sleep(1)  # the status callbacks of the warm-up
    stack.sandbox.clear()


def counts(stack: Stack, message_id: int) -> dict[str, dict[str, int]]:
    with stack.runtime.session() as session:
        return channel_counts(session, message_id)


def wait_done(stack: Stack, message_id: int, timeout: float, poll: float = 0.5) -> dict[str, dict[str, int]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(poll)
        found = counts(stack, message_id)
        if sum(sum(c.values()) for c in found.values()) and all(c["pending"] == 0 for c in found.values()):
            return found
    raise SystemExit(f"message {message_id} did not finish within {timeout:.0f}s")


def received_at(item: dict[str, Any]) -> float:
    """When the sandbox received a provider request (its own clock: the same machine's)."""
    return datetime.fromisoformat(item["received_at"]).timestamp()


def sms_requests(stack: Stack) -> int:
    return stack.sandbox.stats().get("twilio.messages.create", 0)


def first_request_after(stack: Stack, already: int, since: float, timeout: float, poll: float = 0.02) -> float:
    """Wall-clock time of the first SMS request received after ``since``, once the sandbox's request
    counter passed ``already``.

    Polls the counter (cheap), then reads the inbox once while it is still short: each item carries
    its receipt time, so the poll interval does not blur the figure.
    """
    deadline = time.monotonic() + timeout
    while sms_requests(stack) <= already:
        if time.monotonic() > deadline:
            raise SystemExit(f"no provider request within {timeout:.0f}s")
        time.sleep(poll)
    return min(t for t in map(received_at, stack.sandbox.inbox(channel="sms")) if t >= since)


def last_request(stack: Stack) -> float:
    items = stack.sandbox.inbox(channel="sms", limit=1)
    return received_at(items[0]) if items else 0.0


def _up(client: SandboxClient) -> bool:
    try:
        client.stats()
        return True
    except Exception:
        return False


def _wait_until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit("sandbox did not start")

