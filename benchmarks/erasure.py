"""Erasing one person on a large delivery history, and what the index that makes it cheap
(``deliveries.contact_id``) costs the rows a send writes.

    .venv/bin/python benchmarks/erasure.py [--residents 100000] [--history 30] [--erase 15]

PostgreSQL only (the production database). A fresh schema at the head migration holds
``--residents`` residents and a history of ``--history`` delivered SMS messages to all of them
(``residents × history`` delivery rows, written with COPY). Then, once without the index and once
with it, on the same table:

- ``erase_ms``: the real ``erase_contact`` of ``--erase`` random residents, each in a transaction
  rolled back afterwards (so both rounds erase the same people): median and largest;
- ``history_ms``: the contact page's list of what was sent to one person (their newest 200
  rows), the page an officer opens when a resident calls to say an alert never came: median;
- ``plan_rows_per_s``: one new message planned for every resident through the planner's own insert
  (``insert_ignoring_duplicates``, COPY into a staging table, pages of 5,000 rows);
- ``send_writes_rows_per_s``: that message's rows taken through the three writes a delivered SMS
  gets, 300 rows per statement as the workers write them (claimed, sent with the provider's id,
  delivered by the callback).

Also prints how long ``CREATE INDEX`` took on the full history: what the migration costs a city
upgrading with that much history. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from schema import fresh_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.contacts.erasure import erase_contact
from hub.db import get_engine, insert_ignoring_duplicates
from hub.models import Contact, Delivery

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
INDEX = "ix_deliveries_contact"
SECRET = "benchmark-secret-key-benchmark-secret-key"
PAGE = 5000
BATCH = 300


def phone(i: int) -> str:
    return f"+8190{10_000_000 + i:08d}"


def new_message(cur: psycopg.Cursor[Any], title: str) -> int:
    row = cur.execute("INSERT INTO messages (public_id, title, body, overrides, channels, audience, mode, msg_type, "
                      "state, source, created_at, meta) VALUES (%s, %s, 'x', '{}', '[\"sms\"]', 'all', 'actual', "
                      "'notice', 'done', 'benchmark', now(), '{}') RETURNING id",
                      (uuid.uuid4().hex, title)).fetchone()
    assert row is not None
    return int(row[0])


def seed(pg_url: str, residents: int, history: int) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        with cur.copy("COPY contacts (id, external_id, kind, name, language, phone, email, exercise_participant, "
                      "active, created_at) FROM STDIN") as copy:
            for i in range(1, residents + 1):
                copy.write_row((i, f"B{i:07d}", "resident", f"住民{i}", "ja", phone(i), f"r{i}@example.jp", False,
                                True, now))
        cur.execute("SELECT setval(pg_get_serial_sequence('contacts', 'id'), %s)", (residents,))
        for m in range(history):
            message_id = new_message(cur, f"履歴{m}")
            with cur.copy("COPY deliveries (message_id, channel, contact_id, address, language, batch_no, state, "
                          "provider_id, attempts, sent_at, delivered_at, updated_at) FROM STDIN") as copy:
                for i in range(1, residents + 1):
                    copy.write_row((message_id, "sms", i, phone(i), "ja", i // BATCH, "delivered",
                                    f"SM{message_id:08d}{i:024d}", 1, now, now, now))
            conn.commit()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def erase_times(db_url: str, people: list[int]) -> list[float]:
    engine = get_engine(db_url)
    times = []
    for contact_id in people:
        with Session(engine) as session:
            contact = session.get(Contact, contact_id)
            assert contact is not None
            t0 = time.perf_counter()
            erase_contact(session, contact, SECRET, "benchmark", "benchmark")
            session.flush()
            times.append((time.perf_counter() - t0) * 1000)
            session.rollback()
    return times


def history_times(db_url: str, people: list[int]) -> list[float]:
    engine = get_engine(db_url)
    times = []
    with Session(engine) as session:
        for contact_id in people:
            t0 = time.perf_counter()
            session.execute(select(Delivery.id, Delivery.state).where(Delivery.contact_id == contact_id)
                            .order_by(Delivery.id.desc()).limit(200)).all()
            times.append((time.perf_counter() - t0) * 1000)
    return times


def plan_rate(db_url: str, pg_url: str, residents: int, title: str) -> tuple[int, float]:
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        message_id = new_message(cur, title)
        conn.commit()
    engine = get_engine(db_url)
    t0 = time.perf_counter()
    for start in range(1, residents + 1, PAGE):
        rows = [{"message_id": message_id, "channel": "sms", "contact_id": i, "address": phone(i), "language": "ja",
                 "batch_no": i // BATCH, "state": "pending", "attempts": 0, "updated_at": datetime.now(UTC)}
                for i in range(start, min(start + PAGE, residents + 1))]
        with Session(engine) as session:
            insert_ignoring_duplicates(session, Delivery, rows)
            session.commit()
    return message_id, residents / (time.perf_counter() - t0)


def send_writes_rate(pg_url: str, message_id: int) -> float:
    """Claimed, sent, delivered: three statements per 300 rows, each committed, as the workers and
    the status applier write them."""
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        ids = [r[0] for r in cur.execute("SELECT id FROM deliveries WHERE message_id = %s ORDER BY id",
                                         (message_id,))]
        t0 = time.perf_counter()
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            cur.execute("UPDATE deliveries SET state = 'sending', claimed_by = 'bench', claimed_at = now(), "
                        "updated_at = now() WHERE id = ANY(%s) AND state = 'pending'", (batch,))
            conn.commit()
            cur.execute("UPDATE deliveries AS d SET state = 'sent', provider_id = v.sid, attempts = 1, "
                        "sent_at = now(), updated_at = now() FROM unnest(%s::bigint[], %s::text[]) AS v(id, sid) "
                        "WHERE d.id = v.id AND d.state = 'sending' AND d.claimed_by = 'bench'",
                        (batch, [f"SMnew{i:027d}" for i in batch]))
            conn.commit()
            cur.execute("UPDATE deliveries AS d SET state = 'delivered', provider_status = 'delivered', "
                        "delivered_at = now(), updated_at = now() FROM unnest(%s::text[]) AS v(sid) "
                        "WHERE d.provider_id = v.sid", ([f"SMnew{i:027d}" for i in batch],))
            conn.commit()
        return len(ids) / (time.perf_counter() - t0)


def round_of(db_url: str, pg_url: str, residents: int, people: list[int], label: str) -> dict[str, Any]:
    erase_times(db_url, people[:2])  # caches warm for both rounds alike
    times = erase_times(db_url, people)
    history = history_times(db_url, people)
    message_id, plan = plan_rate(db_url, pg_url, residents, label)
    writes = send_writes_rate(pg_url, message_id)
    return {"erase_ms_median": round(statistics.median(times), 1), "erase_ms_max": round(max(times), 1),
            "history_ms_median": round(statistics.median(history), 1),
            "plan_rows_per_s": round(plan), "send_writes_rows_per_s": round(writes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=30, help="delivered messages already in the table")
    parser.add_argument("--erase", type=int, default=15)
    parser.add_argument("--database-url", default=PG)
    args = parser.parse_args()

    with fresh_schema(args.database_url) as schema:
        db_url, pg_url = schema.db_url, schema.pg_url
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP INDEX IF EXISTS "{INDEX}"')
        t0 = time.perf_counter()
        seed(pg_url, args.residents, args.history)
        seeded = time.perf_counter() - t0
        people = random.Random(7).sample(range(1, args.residents + 1), args.erase + 2)
        without = round_of(db_url, pg_url, args.residents, people, "索引なし")
        with psycopg.connect(pg_url, autocommit=True) as conn:
            t0 = time.perf_counter()
            conn.execute(f'CREATE INDEX "{INDEX}" ON deliveries (contact_id)')
            create_index = time.perf_counter() - t0
            conn.execute("VACUUM ANALYZE deliveries")
        with_index = round_of(db_url, pg_url, args.residents, people, "索引あり")
        rows = args.residents * args.history
        print(json.dumps({"residents": args.residents, "history_rows": rows, "seed_s": round(seeded, 1),
                          "create_index_s": round(create_index, 2), "without_index": without,
                          "with_index": with_index}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
