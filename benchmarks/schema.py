"""A fresh PostgreSQL schema at the head migration for one benchmark run, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from hub.migrate import upgrade


@dataclass(frozen=True)
class Schema:
    name: str
    db_url: str  # for the hub (SQLAlchemy)
    pg_url: str  # for psycopg: COPY and VACUUM


@contextmanager
def fresh_schema(database_url: str) -> Iterator[Schema]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    base = database_url.replace("postgresql+psycopg", "postgresql")
    options = f"options=-csearch_path%3D{name}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        schema = Schema(name, f"{database_url}?{options}", f"{base}?{options}")
        upgrade(schema.db_url)
        yield schema
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
