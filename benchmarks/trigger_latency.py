"""Telegram visible in the feed → first request at a (sandbox) provider: the hub's own part.

Runs the real poller against a local JMA-like feed server (tests/triggers/feedserver.py), the
real pipeline and the real channels against the sandbox, with Celery eager (one process, no
broker hop). Each run publishes a new quake (a fresh EventID of JMA's 6強 sample, 出典：気象庁),
polls at once — the wait for the next poll (up to ``HUB_JMA_POLL_SECONDS``, 60 s by default) is
not part of the hub's own work and is reported separately — and reads the sandbox inbox for the
earliest provider request.

    .venv/bin/python benchmarks/trigger_latency.py --runs 20 --residents 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.app import create_app  # noqa: E402
from hub.config import Settings  # noqa: E402
from hub.demo.seed import seed_demo  # noqa: E402
from hub.migrate import upgrade  # noqa: E402
from hub.runtime import Runtime  # noqa: E402
from hub.templating import load_templates  # noqa: E402
from sandbox import Sandbox, SandboxClient, hub_settings  # noqa: E402
from tests.support.live import LiveServer, free_port  # noqa: E402
from tests.triggers.feedserver import FeedServer  # noqa: E402
from triggers.jma.poller import Poller  # noqa: E402
from triggers.rulebook import save_rules  # noqa: E402

SAMPLE = ROOT / "tests/fixtures/jma/official/32-35_06_03_240613_VXSE53.xml"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def quake(n: int) -> bytes:
    return SAMPLE.read_bytes().replace(b"<EventID>20080614084350", b"<EventID>2%013d" % n, 1)


def first_request(client: SandboxClient) -> float | None:
    stamps = [datetime.fromisoformat(item["received_at"]).timestamp() for item in client.inbox()]
    return min(stamps) if stamps else None


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, Sandbox(callback_delay=0.0) as sandbox, FeedServer() as feeds:
        port = free_port()
        url = args.database_url or f"sqlite:///{tmp}/hub.db"
        settings = Settings(
            **cast(dict[str, Any], hub_settings(sandbox.http_url, sandbox.smtp_port)),
            database_url=url, tasks_eager=True, data_dir=tmp, public_url=f"http://127.0.0.1:{port}",
            provider_timeout=5.0,
            rate_sms=0, rate_voice=0, rate_email=0, rate_line=0, rate_x=0, jma_feeds=feeds.feed_url(),
        ).resolved()
        upgrade(url)
        app = create_app(settings)
        server = LiveServer(app, port).start()
        try:
            with app.app_context():
                measure(app.extensions["hub"], sandbox, feeds, args)
        finally:
            server.stop()


def measure(rt: Runtime, sandbox: Sandbox, feeds: FeedServer, args: argparse.Namespace) -> None:
    with rt.session() as session:
        seed_demo(session, residents=args.residents, staff=10)
        load_templates(session)
        save_rules(session, rt, [{
            "name": "奥州市 震度5弱以上", "when": "earthquake", "municipalities": ["0321500"], "min_intensity": "5弱",
            "template": "jma-earthquake", "audience": "residents", "channels": args.channels.split(","),
            "max_per_hour": 60,
        }])
    client = SandboxClient(sandbox.http_url)
    http = requests.Session()
    http.trust_env = False
    poller = Poller(rt, feeds=[feeds.feed_url()], http=http, max_age=None)
    first: list[float] = []
    whole: list[float] = []
    for n in range(args.runs + 1):
        client.clear()
        visible = time.time()
        feeds.publish(f"2008061323{n:04d}_0_VXSE53_010000.xml", quake(n))
        report = poller.poll_once()
        done = time.time()
        assert [d.outcome for d in report.decisions] == ["matched"], report.summary()
        stamp = first_request(client)
        if n == 0 or stamp is None:
            continue  # the first run warms connections and caches
        first.append(stamp - visible)
        whole.append(done - visible)
    ms = [value * 1000 for value in first]
    print(f"trigger latency over {len(ms)} runs ({args.residents} residents, channels {args.channels}, "
          f"{'PostgreSQL' if rt.settings.database_url.startswith('postgresql') else 'SQLite'}, Celery eager)")
    print(f"  feed visible → first provider request: median {statistics.median(ms):.0f} ms, "
          f"p95 {percentile(ms, 0.95):.0f} ms, min {min(ms):.0f} ms, max {max(ms):.0f} ms")
    all_ms = [value * 1000 for value in whole]
    print(f"  feed visible → every delivery handed over: median {statistics.median(all_ms):.0f} ms, "
          f"p95 {percentile(all_ms, 0.95):.0f} ms")
    print(f"  plus the wait for the next poll: 0–{rt.settings.jma_poll_seconds} s "
          f"(HUB_JMA_POLL_SECONDS; target: hub part ≤ 1 s + poll interval)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--channels", default="sms,line,email")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
