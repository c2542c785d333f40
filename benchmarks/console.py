"""What watching a large send costs: the console's pages and the counts they poll, at a million rows.

    .venv/bin/python benchmarks/console.py [--residents 1000000] [--channels sms,email] [--viewers 10]
                                           [--seconds 30]

PostgreSQL and Redis (the production parts). A fresh schema at the head migration holds the demo
city's operators and ``--residents`` residents, and one live alert with a 安否 question being sent
to all of them on ``--channels`` (``residents × channels`` delivery rows written with COPY, in the
mix of states of a send under way: most delivered or sent, some pending, being sent or failed).
The web app runs in this process against that database. Twice, once with each viewer counting for
itself (as before 2026-12-01) and once with the shared counts of ``hub/compose/tally.py``:

- ``api_ms``, ``message_page_ms``, ``dashboard_ms``, ``metrics_ms``: one viewer's request for the
  message's JSON (what every open dashboard and status page polls every 3 s), its status page, the
  dashboard, and one Prometheus scrape of ``/metrics``: the first request and the median of the
  next five;
- ``survey_ms``: the same for the message's 安否 question's tally (every resident is in one of the
  demo city's areas; three in ten answered);
- ``viewers``: ``--viewers`` officers with the status page open for ``--seconds`` s, each polling
  the counts every 3 s as ``status.js`` does and the survey's tally every other time (``survey.js``
  asks every 5 s): PostgreSQL's CPU during that time (% of one core: what the watching takes from
  the send it watches) and the polls' median and slowest answer.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from flask import Flask
from flask.testing import FlaskClient
from measure import pids_named
from schema import fresh_schema

from hub.app import create_app
from hub.compose.tally import Tally
from hub.config import Settings
from hub.demo.seed import DEMO_PASSWORDS, DEMO_TOKEN, seed_demo

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/13"
POLL_SECONDS = 3.0
SURVEY_EVERY = 2  # survey.js asks every 5 s: about every other time status.js does
# A send under way: (state, share of rows)
QUESTION = {"text": "無事ですか", "choices": [{"key": "1", "label": "無事"}, {"key": "2", "label": "けが"},
                                          {"key": "3", "label": "助けが必要"}]}
STATES = [("delivered", 0.55), ("sent", 0.2), ("pending", 0.15), ("sending", 0.05), ("failed", 0.05)]


class NoTallies:
    """Every request counts for itself: the console before shared counts."""

    def get(self, key: str) -> Tally | None:
        return None

    def put(self, key: str, tally: Tally) -> None:
        pass

    def take_turn(self, key: str) -> bool:
        return True


def seed(pg_url: str, residents: int, channels: list[str]) -> int:
    now = datetime.now(UTC)
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        admin, department = cur.execute(
            "SELECT id, department_id FROM operators WHERE username = 'admin'").fetchone() or (None, None)
        first = int(cur.execute("SELECT coalesce(max(id), 0) FROM contacts").fetchone()[0]) + 1  # type: ignore[index]
        with cur.copy("COPY contacts (id, external_id, kind, name, language, phone, email, exercise_participant, "
                      "active, created_at) FROM STDIN") as copy:
            for i in range(first, first + residents):
                copy.write_row((i, f"B{i:07d}", "resident", f"住民{i}", "ja", f"+8190{10_000_000 + i:08d}",
                                f"r{i}@example.jp", False, True, now))
        cur.execute("SELECT setval(pg_get_serial_sequence('contacts', 'id'), %s)", (first + residents,))
        row = cur.execute(
            "INSERT INTO messages (public_id, title, body, overrides, channels, audience, mode, msg_type, state, "
            "source, created_at, meta, department_id, created_by_id, approved_by_id) VALUES (%s, '避難指示（測定）', "
            "'x', '{}', %s, 'all', 'actual', 'alert', 'queued', 'benchmark', now(), '{}', %s, %s, %s) RETURNING id",
            (uuid.uuid4().hex, json.dumps(channels), department, admin, admin)).fetchone()
        assert row is not None
        message_id = int(row[0])
        # A 安否 question: every resident in one of the city's areas, three in ten answered by SMS.
        cur.execute("UPDATE messages SET meta = %s WHERE id = %s", (json.dumps({"question": QUESTION}), message_id))
        areas = [r[0] for r in cur.execute("SELECT id FROM areas ORDER BY id")]
        with cur.copy("COPY contact_areas (contact_id, area_id) FROM STDIN") as copy:
            for n, i in enumerate(range(first, first + residents)):
                copy.write_row((i, areas[n % len(areas)]))
        with cur.copy("COPY resident_answers (message_id, contact_id, choice_key, channel, answered_at, "
                      "first_answered_at, changes) FROM STDIN") as copy:
            for n, i in enumerate(range(first, first + residents)):
                if n % 10 < 3:
                    copy.write_row((message_id, i, str(1 + n % 3), "sms", now, now, 0))
        bounds = []
        acc = 0.0
        for state, share in STATES:
            acc += share
            bounds.append((acc, state))
        for channel in channels:
            with cur.copy("COPY deliveries (message_id, channel, contact_id, address, language, batch_no, state, "
                          "attempts, updated_at) FROM STDIN") as copy:
                for n, i in enumerate(range(first, first + residents)):
                    where = (n * 7919 % residents) / residents
                    state = next(s for b, s in bounds if where < b)
                    address = f"+8190{10_000_000 + i:08d}" if channel in ("sms", "voice") else f"r{i}@example.jp"
                    copy.write_row((message_id, channel, i, address, "ja", n // 200, state, 1, now))
        conn.commit()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return message_id


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL process now (the service is shared: quiet machine wanted)."""
    from measure import cpu_seconds

    return {pid: cpu_seconds([pid]) for pid in pids_named("postgres")}


def timed(client: FlaskClient, path: str, headers: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    response = client.get(path, headers=headers or {})
    took = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code)
    return took


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    response = client.post("/login", data={"username": "admin", "password": DEMO_PASSWORDS["admin"],
                                           "code": "", "csrf_token": csrf})
    assert response.status_code in (302, 303), response.status_code
    return client


def singles(app: Flask, message_id: int) -> dict[str, Any]:
    api = app.test_client()
    page = signed_in(app)
    bearer = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    out: dict[str, Any] = {}
    for name, client, path, headers in (("api_ms", api, f"/api/v1/messages/{message_id}", bearer),
                                        ("message_page_ms", page, f"/messages/{message_id}", None),
                                        ("dashboard_ms", page, "/", None),
                                        ("metrics_ms", api, "/metrics", None),
                                        ("survey_ms", api, f"/api/v1/messages/{message_id}/survey", bearer)):
        time.sleep(12)  # whatever an earlier request left shared has gone stale
        first = timed(client, path, headers)
        rest = [timed(client, path, headers) for _ in range(5)]
        out[name] = {"first": round(first, 1), "median_of_next_5": round(statistics.median(rest), 1)}
    return out


def viewers(app: Flask, message_id: int, n: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    lock = threading.Lock()
    bearer = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    time.sleep(12)  # whatever an earlier request left shared has gone stale
    stop = time.monotonic() + seconds

    def officer(k: int) -> None:
        client = app.test_client()
        time.sleep(POLL_SECONDS * k / n)  # pages opened at different moments
        polls = 0
        while time.monotonic() < stop:
            took = timed(client, f"/api/v1/messages/{message_id}", bearer)
            if polls % SURVEY_EVERY == 0:
                took += timed(client, f"/api/v1/messages/{message_id}/survey", bearer)
            polls += 1
            with lock:
                latencies.append(took)
            time.sleep(POLL_SECONDS)

    before, started = postgres_cpu(), time.monotonic()
    threads = [threading.Thread(target=officer, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    after = postgres_cpu()
    used = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
    latencies.sort()
    return {"viewers": n, "polls": len(latencies), "postgres_cpu_pct_of_one_core": round(100 * used / elapsed, 1),
            "poll_ms_median": round(statistics.median(latencies), 1), "poll_ms_max": round(latencies[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--channels", default="sms,email")
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database-url", default=PG)
    parser.add_argument("--redis-url", default=REDIS)
    args = parser.parse_args()

    redis.Redis.from_url(args.redis_url).flushdb()
    with fresh_schema(args.database_url) as schema, tempfile.TemporaryDirectory(prefix="hub-bench-") as workdir:
        settings = Settings(database_url=schema.db_url, broker_url=args.redis_url, data_dir=workdir,
                            public_url="http://127.0.0.1:8000").resolved()
        app = create_app(settings)
        with app.extensions["hub"].session() as s:
            seed_demo(s, residents=0, staff=0)
        t0 = time.perf_counter()
        message_id = seed(schema.pg_url, args.residents, args.channels.split(","))
        seeded = time.perf_counter() - t0
        runtime = app.extensions["hub"]
        shared = runtime.tallies
        result: dict[str, Any] = {"residents": args.residents, "channels": args.channels,
                                  "delivery_rows": args.residents * len(args.channels.split(",")),
                                  "seed_s": round(seeded, 1)}
        for label, store in (("each_viewer_counts", NoTallies()), ("shared_counts", shared)):
            runtime.tallies = store
            result[label] = {**singles(app, message_id), **viewers(app, message_id, args.viewers, args.seconds)}
        print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
