"""Fan-out through the full stack: PostgreSQL + Redis + Celery workers + gunicorn (callbacks) + the sandbox.

    .venv/bin/python benchmarks/fanout.py --recipients 10000 --channels sms
    .venv/bin/python benchmarks/fanout.py --recipients 100000 --channels sms,line
    .venv/bin/python benchmarks/fanout.py --recipients 1000000 --seed copy --first-request
    .venv/bin/python benchmarks/fanout.py --recipients 100000 --seed copy --cancel-under-load
    .venv/bin/python benchmarks/fanout.py --recipients 10000 --seed copy --profile 15

Everything runs on this machine (the sandbox, the web app receiving status callbacks, the
workers and the databases share its cores), so the figures are a floor for a real deployment.
Prints one JSON object: deliveries/second, the time from the message's creation to the first
provider request the sandbox received, the worker processes' peak resident memory (sum and
largest single process) and the CPU each part of the stack used per delivery.

``--first-request`` stops ``--linger`` seconds (10) after the first provider request arrived (a
1,000,000-recipient send need not run to the end to say how long the first recipient waited; the
worker memory is sampled until then). ``--cancel-under-load``
sends a small alert, starts a big everyday send, and measures how long a 取消 of the small alert
waits for its first provider request while the big send runs. ``--profile N`` samples the
workers with py-spy for N seconds once sending started and prints where their CPU went.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
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
from sqlalchemy import select  # noqa: E402

from hub.app import create_app  # noqa: E402
from hub.cli.serve import worker_argv  # noqa: E402
from hub.compose.corrections import follow_up  # noqa: E402
from hub.compose.messages import Composition, approve, create_message  # noqa: E402
from hub.compose.status import channel_counts  # noqa: E402
from hub.config import Settings  # noqa: E402
from hub.demo.seed import seed_demo  # noqa: E402
from hub.dispatch.lanes import ALERTS  # noqa: E402
from hub.dispatch.tasks import release  # noqa: E402
from hub.migrate import upgrade  # noqa: E402
from hub.models import Contact, Message, MessageState, MsgType, Operator, RecipientList  # noqa: E402
from hub.runtime import Runtime  # noqa: E402
from sandbox import SandboxClient, hub_settings  # noqa: E402
from tests.support.live import free_port  # noqa: E402
from tests.support.worker import settings_env  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SMS_SENDER = "+815011110001"  # the demo's 防災危機管理課 sender, which messages without a department use
BODY = "一斉配信の性能測定です。"
TICK = os.sysconf("SC_CLK_TCK")
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


# -- processes: resident memory and CPU from /proc -------------------------------------------------

def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(root_pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """A process and all its descendants (a Celery worker is its main process plus its pool)."""
    children = _children() if children is None else children
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_tree_kib(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    return sum(rss_kib(pid) for pid in process_tree(root_pid))


def cpu_seconds(pids: list[int], fields_wanted: slice = slice(11, 15)) -> float:
    """CPU of these processes so far: user + system (children they already reaped included) by
    default; ``SYSTEM`` for the kernel's part alone (on loopback the kernel runs the receiver's
    side of TCP in the sender's system call)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[fields_wanted])  # utime stime cutime cstime
    return total / TICK


SYSTEM = slice(12, 13)


def pids_named(*names: str) -> list[int]:
    """Every process on the machine with one of these command names (PostgreSQL and Redis are shared
    services here, so their figures include whatever else ran on the machine meanwhile)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() in names:
                    found.append(int(entry))
            except OSError:
                continue
    return found


class RssSampler:
    """Peak resident memory of the worker processes while a send runs: the peak of their sum and
    the largest single process (a memory limit applies per process in most deployments)."""

    def __init__(self, roots: list[int], interval: float = 0.5) -> None:
        self.roots = roots
        self.interval = interval
        self.peak_sum_kib = 0
        self.peak_max_kib = 0
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        children = _children()
        sizes = [rss_kib(pid) for root in self.roots for pid in process_tree(root, children)]
        self.processes = max(self.processes, len(sizes))
        self.peak_sum_kib = max(self.peak_sum_kib, sum(sizes))
        self.peak_max_kib = max(self.peak_max_kib, max(sizes, default=0))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def result(self) -> dict[str, float]:
        return {"peak_sum_mib": round(self.peak_sum_kib / 1024, 1),
                "peak_process_mib": round(self.peak_max_kib / 1024, 1), "processes": self.processes}


class CpuMeter:
    """CPU seconds each part of the stack used between start() and stop()."""

    def __init__(self, parts: dict[str, Callable[[], list[int]]]) -> None:
        self.parts = parts
        self._start: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def start(self) -> CpuMeter:
        self._start = {name: self._read(name, pids) for name, pids in self.parts.items()}
        return self

    def stop(self) -> dict[str, float]:
        self.used = {name: round(self._read(name, pids) - self._start[name], 2) for name, pids in self.parts.items()}
        return self.used

    @staticmethod
    def _read(name: str, pids: Callable[[], list[int]]) -> float:
        return cpu_seconds(pids(), SYSTEM if "kernel" in name else slice(11, 15))


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


# -- profiling --------------------------------------------------------------------------------------

# Where a worker's CPU goes, by the file of the innermost frame that belongs to one of these
# (py-spy names frames "function (package/module.py:line)").
PROFILE_BUCKETS = (
    ("twilio SDK (building the request, parsing the answer)", ("twilio/",)),
    ("HTTP client (requests, urllib3, http.client, sockets)", ("requests/", "urllib3/", "http/client.py",
                                                               "socket.py", "ssl.py")),
    ("SQLAlchemy ORM/Core", ("sqlalchemy/",)),
    ("psycopg (PostgreSQL driver)", ("psycopg/", "psycopg_binary/")),
    ("Redis (rate limiter, broker)", ("redis/", "kombu/")),
    ("Celery", ("celery/", "billiard/")),
    ("hub code", ("hub/", "channels/")),
)


def profile_workers(stack: Stack, seconds: int, out: Path) -> dict[str, Any]:
    """py-spy samples of every worker process (running Python only), summarised two ways: the
    share of samples inside each library (inclusive, first match from the innermost frame) and the
    functions most often on top of the stack (self time)."""
    spy = str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        spy = shutil.which("py-spy") or "py-spy"
    raw = out.with_suffix(".txt")
    # --gil: only samples holding the GIL, i.e. running Python. Without it a process that is merely
    # runnable counts too, and on a loaded 2-core machine a worker is mostly preempted right in the
    # sendall() that woke the sandbox: the profile would credit the HTTP client with waiting.
    subprocess.run([spy, "record", "--subprocesses", "--gil", "--format", "raw", "--rate", "100",
                    "--duration", str(seconds), "--nonblocking", "-o", str(raw), "--pid", str(stack.workers[0].pid)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return summarise_profile(raw)


def summarise_profile(raw: Path, top: int = 15) -> dict[str, Any]:
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        n = int(count_text)
        frames = stack_text.split(";")
        total += n
        leaves[frames[-1]] += n
        for frame in reversed(frames):  # innermost first: a SQLAlchemy call inside hub code is SQLAlchemy
            where = frame.rpartition("(")[2]
            bucket = next((name for name, keys in PROFILE_BUCKETS if where.startswith(keys)), None)
            if bucket:
                buckets[bucket] += n
                break
        else:
            buckets["other (stdlib, interpreter)"] += n
    share = {name: round(100 * n / total, 1) for name, n in buckets.most_common()} if total else {}
    return {"samples": total, "share_percent": share,
            "top_self": [(frame, round(100 * n / total, 1)) for frame, n in leaves.most_common(top)],
            "raw": str(raw)}


# -- the benchmarks ---------------------------------------------------------------------------------

def throughput(stack: Stack, channels: list[str], audience: str, timeout: float, profile: int = 0,
               stop_at_first: bool = False, linger: float = 0.0) -> dict[str, Any]:
    """Send one message to ``audience``; time to the first provider request, rate, memory, CPU."""
    sampler = RssSampler([w.pid for w in stack.workers]).start()
    meter = CpuMeter(stack.cpu_parts()).start()
    already = sms_requests(stack)
    message_id, created = send(stack, channels, audience)
    first = first_request_after(stack, already, created, timeout) if "sms" in channels else None
    result: dict[str, Any] = {"message_id": message_id}
    if first is not None:
        result["first_request_seconds"] = round(first - created, 3)
    if profile:
        # Outside the run's directory, which is removed at the end: the raw samples are worth keeping.
        result["profile"] = profile_workers(stack, profile, Path(f"/tmp/hub-profile-{stack.schema}"))
    if stop_at_first:
        # Memory keeps being sampled a little longer: with planning streamed in chunks, the peak
        # may come after the first request rather than before it.
        time.sleep(linger)
        result["sms_sent_in_window"] = sms_requests(stack) - already
        sampler.stop()
        result["worker_rss"] = sampler.result()
        return result
    done = wait_done(stack, message_id, timeout)
    end = time.time()
    sampler.stop()
    cpu = meter.stop()
    if "sms" in channels:
        end = last_request(stack)  # the last SMS request received, not the next poll of the database
    elapsed = end - created
    sent = {ch: c["sent"] + c["delivered"] for ch, c in done.items()}
    total_sent = sum(sent.values())
    result.update({
        "seconds": round(elapsed, 2),
        "deliveries_per_second": {ch: round(n / elapsed, 1) for ch, n in sent.items()},
        "counts": done, "worker_rss": sampler.result(),
        "cpu_seconds": cpu,
        "cpu_ms_per_delivery": {part: round(1000 * s / total_sent, 3) for part, s in cpu.items()} if total_sent else {},
        "line_api_calls": stack.sandbox.stats().get("line.multicast", 0),
    })
    return result


def cancel_under_load(stack: Stack, load_audience: str, small: int, delay: float, timeout: float) -> dict[str, Any]:
    """取消 of a small sent alert while a big everyday send runs: cancel → its first provider request."""
    # The small alert: the first ``small`` residents, sent and finished before the load starts.
    with stack.runtime.session() as session:
        members = list(session.scalars(select(Contact).order_by(Contact.id).limit(small)))
        listed = RecipientList(name="benchmark-small-alert", members=members)
        session.add(listed)
        session.flush()
        list_id, phones = listed.id, [m.phone for m in members]
    alert_id, _ = send(stack, ["sms"], f"list:{list_id}", title="【ベンチ】避難指示")
    wait_done(stack, alert_id, timeout)

    load_type = MsgType.NOTICE  # everyday work: the 取消 must overtake it
    already = sms_requests(stack)
    sampler = RssSampler([w.pid for w in stack.workers]).start()
    load_id, load_created = send(stack, ["sms"], load_audience, title="お知らせ", msg_type=load_type)
    load_first = first_request_after(stack, already, load_created, timeout)
    time.sleep(delay)  # let the big send get going, as a real cancellation comes mid-send
    sent_before = sms_requests(stack) - already

    with stack.app.app_context():
        cancelled = time.time()
        with stack.runtime.session() as session:
            cancel = follow_up(session, stack.runtime, alert_id, kind="cancel", actor="benchmark")
            cancel_id, state = cancel.id, cancel.state
        release(cancel_id, state)
    cancel_body = None
    first_cancel: float | None = None
    deadline = time.monotonic() + timeout
    # The cancellation goes to the small alert's recipients: look only at their inboxes.
    while first_cancel is None and time.monotonic() < deadline:
        time.sleep(0.2)
        if cancel_body is None:
            with stack.runtime.session() as session:
                cancel_body = session.get(Message, cancel_id).body  # type: ignore[union-attr]
        seen = [received_at(item) for phone in phones[:20]
                for item in stack.sandbox.inbox(channel="sms", to=phone) if cancel_body in item["text"]]
        first_cancel = min(seen) if seen else None
    if first_cancel is None:
        raise SystemExit(f"the cancellation sent nothing within {timeout:.0f}s")
    # Every copy of the cancellation, to be sure the earliest one counts (not just among the first 20).
    wait_done(stack, cancel_id, timeout)
    first_cancel = min(received_at(item) for phone in phones for item in stack.sandbox.inbox(channel="sms", to=phone)
                       if (cancel_body or "") in item["text"])
    sampler.stop()
    load = counts(stack, load_id)["sms"]
    return {
        "load_message_id": load_id, "load_msg_type": str(load_type),
        "load_first_request_seconds": round(load_first - load_created, 3),
        "load_sms_sent_before_cancel": sent_before,
        "load_sms_pending_at_end": load["pending"],
        "cancel_message_id": cancel_id, "cancel_recipients": small,
        "cancel_first_request_seconds": round(first_cancel - cancelled, 3),
        "worker_rss": sampler.result(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10000)
    parser.add_argument("--channels", default="sms")
    parser.add_argument("--seed", choices=("demo", "copy"), default=None,
                        help="demo: the demo's mixed residents (default up to 100,000); copy: every resident "
                             "reachable by SMS, inserted with COPY (default above 100,000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (celery -c per worker below)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rate", type=float, default=0, help="sends/s per sender (0 = unthrottled)")
    parser.add_argument("--first-request", action="store_true",
                        help="stop at the first provider request (time to first request only)")
    parser.add_argument("--linger", type=float, default=10.0,
                        help="with --first-request: seconds of sending (and RSS sampling) after the first request")
    parser.add_argument("--cancel-under-load", action="store_true",
                        help="取消 of a small sent alert while a --recipients everyday send runs")
    parser.add_argument("--cancel-recipients", type=int, default=50, help="size of the alert that is cancelled")
    parser.add_argument("--cancel-after", type=float, default=5.0, help="seconds into the big send")
    parser.add_argument("--profile", type=int, default=0, metavar="SECONDS", help="py-spy the workers this long")
    parser.add_argument("--cold", action="store_true", help="no warm-up send before the measurement")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--database-url", default=PG)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    how = args.seed or ("demo" if args.recipients <= 100_000 else "copy")
    channels = [c.strip() for c in args.channels.split(",")]

    with full_stack(workers=args.workers, concurrency=args.concurrency, rate=args.rate,
                    database_url=args.database_url, redis_url=args.redis_url) as stack:
        seconds = seed(stack, args.recipients, how)
        print(f"seeded {args.recipients} residents ({how}) in {seconds:.1f}s", file=sys.stderr, flush=True)
        if not args.cold:
            warm_up(stack, channels)
        result: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "loadavg_1min_before": os.getloadavg()[0],
            "recipients": args.recipients, "seed": how,
            "channels": channels, "workers": args.workers, "concurrency": args.concurrency, "warm": not args.cold,
        }
        if args.cancel_under_load:
            result.update(cancel_under_load(stack, "residents", args.cancel_recipients, args.cancel_after,
                                            args.timeout))
        else:
            result.update(throughput(stack, channels, "all", args.timeout, profile=args.profile,
                                     stop_at_first=args.first_request, linger=args.linger))
        result["loadavg_1min_after"] = os.getloadavg()[0]  # other work on the machine meanwhile shows here
        print(json.dumps(result, ensure_ascii=False, indent=2))


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


if __name__ == "__main__":
    main()
