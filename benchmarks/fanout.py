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
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from measure import CpuMeter, RssSampler  # noqa: E402
from sqlalchemy import select  # noqa: E402
from stack import (  # noqa: E402
    PG,
    Stack,
    counts,
    first_request_after,
    full_stack,
    last_request,
    received_at,
    seed,
    send,
    sms_requests,
    wait_done,
    warm_up,
)

from hub.compose.corrections import follow_up  # noqa: E402
from hub.dispatch.tasks import release  # noqa: E402
from hub.models import Contact, Message, MsgType, RecipientList  # noqa: E402

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


if __name__ == "__main__":
    main()
