"""The hub's full stack against Apprise and a bare aiohttp client, in one run, on one sink.

    .venv/bin/python benchmarks/peers.py --sizes 10000
    .venv/bin/python benchmarks/peers.py --sizes 10000,100000 --repeat 3 --json
    .venv/bin/python benchmarks/peers.py --sizes 100000 --peers hub,aiohttp

The sink is one process: the sandbox's Twilio emulator (threaded HTTP/1.1, keep-alive), started by
benchmarks/stack.py's ``full_stack`` for the hub. Every peer makes the same kind of request to
the same endpoint — ``POST /2010-04-01/Accounts/{sid}/Messages.json``, form-encoded ``To``
(a Japanese mobile number), ``From`` (the department's number) and ``Body``, HTTP Basic auth —
and every SMS is one request:

- ``aiohttp``: a bare asyncio client, one ClientSession, ``--aiohttp-connections`` keep-alive
  connections each sending the next request as soon as its answer came. The per-request floor:
  no database, no record of anything.
- ``apprise``: Apprise's own Twilio plugin through its public API (``Apprise.add(url)``,
  ``Apprise.notify(body)``), the recipients split over ``--apprise-services`` ``twilio://`` URLs,
  which Apprise sends concurrently on its own thread pool (its ``async_mode``, on by default).
  Two class attributes are changed, because Apprise has no setting for them: the plugin's
  Twilio URL (pointed at the sandbox, like the hub's ``HUB_TWILIO_BASE_URL``) and its built-in
  pause of 0.2 s between two requests of one URL (set to 0, as the hub's own rate limit is off
  here). Apprise opens a new connection per SMS (``requests.post``): that is how it sends.
- ``hub``: a message to a category of exactly N residents through the full stack
  (PostgreSQL + Redis + Celery workers + gunicorn answering the sandbox's two signed status
  callbacks per SMS), timed from the message's creation (planning included) to the last SMS
  request the sandbox received. Its requests also carry ``StatusCallback``. One small send warms
  the workers up first (a long-running deployment's workers are warm).

Prints messages/second per peer (median and spread over ``--repeat``) and the ratios
hub/Apprise and hub/aiohttp; ``--json`` adds each run's CPU milliseconds per SMS (client and sink
apart, and for the hub each part of its stack) and the load average around it. Everything shares
the machine's cores; see docs/operations.md#benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import throughput
from measure import cpu_seconds, process_tree
from stack import BODY, SMS_SENDER, Stack, bench_phone, full_stack, seed, sms_requests, warm_up

PEERS = ("aiohttp", "apprise", "hub")


def accepted(stack: Stack) -> int:
    """SMS the sandbox accepted (answered 201 and put in its inbox); read after the timing."""
    return len(stack.sandbox.inbox(channel="sms"))


def cpu_now(stack: Stack) -> tuple[float, float]:
    """CPU used so far by this process (the client, all its threads) and by the sink."""
    return time.process_time(), cpu_seconds(process_tree(stack.sandbox_proc.pid) if stack.sandbox_proc else [])


def cpu_per_sms(stack: Stack, before: tuple[float, float], sent: int) -> dict[str, float]:
    """CPU milliseconds per SMS, client and sink apart: unlike a rate, barely moved by other work
    on the machine, so peers measured at different moments can still be compared."""
    after = cpu_now(stack)
    return {"client": round(1000 * (after[0] - before[0]) / sent, 3),
            "sandbox": round(1000 * (after[1] - before[1]) / sent, 3)}


def run_aiohttp(stack: Stack, size: int, connections: int) -> dict[str, Any]:
    import aiohttp

    settings = stack.settings
    statuses: Counter[int] = Counter()
    credentials = f"{settings.twilio_account_sid}:{settings.twilio_auth_token}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}

    async def go() -> float:
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            numbers = iter(range(size))

            async def sender() -> None:
                for i in numbers:  # one shared iterator: each connection takes the next recipient
                    form = {"To": bench_phone(i), "From": SMS_SENDER, "Body": BODY}
                    async with session.post(stack.twilio_messages_url, data=form) as response:
                        await response.read()
                        statuses[response.status] += 1

            start = time.perf_counter()
            await asyncio.gather(*(sender() for _ in range(connections)))
            return time.perf_counter() - start

    before = cpu_now(stack)
    elapsed = asyncio.run(go())
    return {"seconds": elapsed, "sent": statuses.get(201, 0), "statuses": dict(statuses),
            "cpu_ms_per_sms": cpu_per_sms(stack, before, size), "settings": {"connections": connections}}


def run_apprise(stack: Stack, size: int, services: int) -> dict[str, Any]:
    import apprise
    from apprise.plugins.twilio import NotifyTwilio

    settings = stack.settings
    # Apprise logs every SMS at INFO; the hub's app turned the root logger up to INFO, which Apprise
    # on its own would not have: writing 100,000 log lines is not part of sending.
    logging.getLogger("apprise").setLevel(logging.WARNING)
    # No Apprise setting redirects the plugin or lifts its pause: see the module docstring.
    NotifyTwilio.notify_sms_url = f"{settings.twilio_base_url}/2010-04-01/Accounts/{{sid}}/Messages.json"
    NotifyTwilio.request_rate_per_sec = 0
    setup = time.perf_counter()
    # Apprise stops waiting for a URL after 60 s by default; a 100,000-SMS URL takes longer. Zero
    # is its documented "no limit".
    notifier = apprise.Apprise(asset=apprise.AppriseAsset(service_timeout=0))
    for part in range(services):
        numbers = "/".join(bench_phone(i) for i in range(part, size, services))
        if numbers:
            url = f"twilio://{settings.twilio_account_sid}:{settings.twilio_auth_token}@{SMS_SENDER}/{numbers}"
            if not notifier.add(url):
                raise SystemExit("Apprise refused the twilio:// URL")
    before = cpu_now(stack)
    start = time.perf_counter()
    ok = notifier.notify(body=BODY)
    elapsed = time.perf_counter() - start
    cpu = cpu_per_sms(stack, before, size)
    return {"seconds": elapsed, "ok": bool(ok), "sent": accepted(stack), "cpu_ms_per_sms": cpu,
            "settings": {"services": services, "setup_seconds": round(start - setup, 2)}}


def run_hub(stack: Stack, size: int, timeout: float) -> dict[str, Any]:
    result = throughput(stack, ["sms"], f"category:bench{size}", timeout)
    sms = result["counts"]["sms"]
    settle_callbacks(stack, 2 * (sms["sent"] + sms["delivered"]))
    return {"seconds": result["seconds"], "sent": sms["sent"] + sms["delivered"],
            "first_request_seconds": result["first_request_seconds"], "counts": sms,
            "worker_rss": result["worker_rss"], "cpu_ms_per_sms": result["cpu_ms_per_delivery"]}


def settle_callbacks(stack: Stack, expected: int, timeout: float = 120) -> None:
    """Wait until the sandbox made the hub run's status callbacks, so they do not load the next peer."""
    deadline = time.monotonic() + timeout
    last, still = -1, 0
    while time.monotonic() < deadline:
        made = stack.sandbox.stats().get("twilio.callbacks", 0)
        if made >= expected:
            return
        still = still + 1 if made == last else 0
        if still >= 10:  # two seconds without progress: nothing more is coming
            return
        last = made
        time.sleep(0.2)


def default_apprise_services() -> int:
    # What ThreadPoolExecutor() (Apprise's shared executor) uses: more URLs would only queue.
    return ThreadPoolExecutor()._max_workers


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    rates = [r["per_second"] for r in runs]
    return {"median": round(statistics.median(rates), 1), "min": round(min(rates), 1), "max": round(max(rates), 1),
            "runs": len(rates)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated message counts")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"which of {', '.join(PEERS)}")
    parser.add_argument("--repeat", type=int, default=1, help="runs per peer and size (the spread is reported)")
    parser.add_argument("--apprise-services", type=int, default=default_apprise_services())
    parser.add_argument("--aiohttp-connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="hub: Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="hub: pool processes per worker")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")
    # Apprise sends with requests, which would obey an HTTP(S)_PROXY of the environment.
    os.environ["NO_PROXY"] = ",".join(filter(None, (os.environ.get("NO_PROXY"), "127.0.0.1", "localhost")))

    runners: dict[str, Callable[[Stack, int], dict[str, Any]]] = {
        "aiohttp": lambda stack, n: run_aiohttp(stack, n, args.aiohttp_connections),
        "apprise": lambda stack, n: run_apprise(stack, n, args.apprise_services),
        "hub": lambda stack, n: run_hub(stack, n, args.timeout),
    }
    report: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                              "sink": "sandbox Twilio Messages.json (one process)", "sizes": {}}
    with full_stack(workers=args.workers, concurrency=args.concurrency) as stack:
        seconds = seed(stack, max(sizes), "copy", groups=tuple(sizes))
        log(args, f"seeded {max(sizes)} residents in {seconds:.1f}s; sink {stack.twilio_messages_url}")
        warm_up(stack, ["sms"])  # as a long-running deployment's workers are
        for size in sizes:
            runs: dict[str, list[dict[str, Any]]] = {p: [] for p in peers}
            for round_no in range(args.repeat):
                for peer in peers:
                    stack.sandbox.clear()  # each run starts with an empty inbox and request counters
                    load_before = os.getloadavg()[0]
                    run = runners[peer](stack, size)
                    # Other work on the machine shows here: figures under a high load are not comparable.
                    run["loadavg_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
                    requests_made = sms_requests(stack)
                    run["per_second"] = round(run["sent"] / run["seconds"], 1)
                    run["requests"] = requests_made
                    if run["sent"] != size:
                        raise SystemExit(f"{peer} delivered {run['sent']} of {size} SMS: {run}")
                    runs[peer].append(run)
                    log(args, f"{size:>7} {peer:<8} run {round_no + 1}: {run['per_second']:>8.1f} SMS/s "
                              f"({run['seconds']:.2f} s)")
            entry: dict[str, Any] = {p: {**summarise(r), "details": r} for p, r in runs.items()}
            if "hub" in entry:
                for other in ("apprise", "aiohttp"):
                    if other in entry:
                        entry[f"hub/{other}"] = round(entry["hub"]["median"] / entry[other]["median"], 3)
            report["sizes"][str(size)] = entry
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_table(report)


def log(args: argparse.Namespace, text: str) -> None:
    print(text, file=sys.stderr if args.json else sys.stdout, flush=True)


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{report['date']}  {report['cpus']} CPUs  sink: {report['sink']}")
    print(f"{'size':>8}  {'peer':<8} {'SMS/s median':>13} {'min':>9} {'max':>9} {'runs':>5}")
    for size, entry in report["sizes"].items():
        for peer in PEERS:
            if peer in entry:
                e = entry[peer]
                print(f"{int(size):>8,}  {peer:<8} {e['median']:>13.1f} {e['min']:>9.1f} {e['max']:>9.1f} "
                      f"{e['runs']:>5}")
        for key in ("hub/apprise", "hub/aiohttp"):
            if key in entry:
                print(f"{'':>8}  {key:<12} {entry[key]:.2f}×")


if __name__ == "__main__":
    main()
