"""Fan-out throughput through the full stack: PostgreSQL + Redis + Celery workers + the sandbox.

    .venv/bin/python benchmarks/fanout.py --recipients 10000 --channels sms
    .venv/bin/python benchmarks/fanout.py --recipients 100000 --channels sms,line

Everything runs on this machine (the sandbox, the web app receiving status callbacks, the
workers and the databases share its cores), so the figures are a floor for a real deployment.
Prints deliveries/second per run and the peak resident memory of the worker processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from hub.app import create_app  # noqa: E402
from hub.compose.messages import Composition, approve, create_message  # noqa: E402
from hub.compose.status import channel_counts  # noqa: E402
from hub.config import Settings  # noqa: E402
from hub.demo.seed import seed_demo  # noqa: E402
from hub.dispatch.tasks import release  # noqa: E402
from hub.migrate import upgrade  # noqa: E402
from hub.models import Operator  # noqa: E402
from sandbox import SandboxClient, hub_settings  # noqa: E402
from tests.support.live import free_port  # noqa: E402
from tests.support.worker import settings_env  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def rss_tree_kib(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10000)
    parser.add_argument("--channels", default="sms")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (celery -c per worker below)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rate", type=float, default=0, help="sends/s per sender (0 = unthrottled)")
    parser.add_argument("--database-url", default=PG)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    base = args.database_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    db_url = f"{args.database_url}?options=-csearch_path%3D{schema}"
    redis.Redis.from_url(args.redis_url).flushdb()
    workdir = Path(f"/tmp/hub-bench-{schema}")
    workdir.mkdir(parents=True)
    http_port, smtp_port, web_port = free_port(), free_port(), free_port()
    settings = Settings(
        **hub_settings(f"http://127.0.0.1:{http_port}", smtp_port),
        database_url=db_url, broker_url=args.redis_url, data_dir=str(workdir),
        public_url=f"http://127.0.0.1:{web_port}", batch_size=200,
        rate_sms=args.rate, rate_voice=args.rate, rate_email=args.rate, rate_line=args.rate, rate_x=args.rate,
    ).resolved()
    env = settings_env(settings)
    procs: list[subprocess.Popen[bytes]] = []
    log = (workdir / "stack.log").open("ab")
    try:
        upgrade(db_url)
        app = create_app(settings)
        runtime = app.extensions["hub"]
        t0 = time.perf_counter()
        with runtime.session() as session:
            seed_demo(session, residents=args.recipients, staff=0)
        print(f"seeded {args.recipients} residents in {time.perf_counter() - t0:.1f}s", flush=True)

        procs.append(subprocess.Popen([sys.executable, "-m", "hub.cli", "sandbox", "run", "--http-port",
                                       str(http_port), "--smtp-port", str(smtp_port)],
                                      env=env, stdout=log, stderr=log, cwd=ROOT))
        procs.append(subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "8", "-b",
                                       f"127.0.0.1:{web_port}", "hub.app:create_app()"],
                                      env=env, stdout=log, stderr=log, cwd=ROOT))
        workers = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "hub.worker:celery", "worker", "-Q",
                                     "hub", "-c", str(args.concurrency), "--without-gossip", "--without-mingle",
                                     "--loglevel", "WARNING"], env=env, stdout=log, stderr=log, cwd=ROOT)
                   for _ in range(args.workers)]
        procs += workers
        sandbox = SandboxClient(settings.sandbox_url)
        _wait_until(lambda: _up(sandbox), 30)
        time.sleep(3)  # workers connect to the broker

        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                peak[0] = max(peak[0], sum(rss_tree_kib(w.pid) for w in workers))
        threading.Thread(target=sample, daemon=True).start()

        channels = [c.strip() for c in args.channels.split(",")]
        with app.app_context():
            start = time.perf_counter()
            with runtime.session() as session:
                message = create_message(session, runtime, Composition(
                    title="ベンチマーク", body="一斉配信の性能測定です。", channels=channels, audience="all"))
                # Live to residents: a second person approves before anything is planned (not timed apart).
                checker = session.scalar(select(Operator).where(Operator.username == "benchmark-approver"))
                if checker is None:
                    checker = Operator(username="benchmark-approver", display_name="benchmark", is_admin=True)
                    session.add(checker)
                    session.flush()
                approve(session, message, checker)
                message_id, state = message.id, message.state
            release(message_id, state)
            planned_at = None
            while True:
                time.sleep(0.5)
                with runtime.session() as session:
                    counts = channel_counts(session, message_id)
                total = sum(sum(c.values()) for c in counts.values())
                if total and planned_at is None:
                    planned_at = time.perf_counter()
                if total and all(c["pending"] == 0 for c in counts.values()):
                    break
            elapsed = time.perf_counter() - start
        done.set()
        sent = {ch: c["sent"] + c["delivered"] for ch, c in counts.items()}
        stats = sandbox.stats()
        result = {
            "recipients": args.recipients, "channels": channels, "workers": args.workers,
            "concurrency": args.concurrency, "seconds": round(elapsed, 2),
            "plan_seconds": round((planned_at or start) - start, 2),
            "deliveries_per_second": {ch: round(n / elapsed, 1) for ch, n in sent.items()},
            "counts": counts, "peak_worker_rss_mib": round(peak[0] / 1024, 1),
            "line_api_calls": stats.get("line.multicast", 0),
        }
        print(json.dumps(result, ensure_ascii=False, indent=2))
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


def _up(client: SandboxClient) -> bool:
    try:
        client.stats()
        return True
    except Exception:
        return False


def _wait_until(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise SystemExit("sandbox did not start")


if __name__ == "__main__":
    main()
