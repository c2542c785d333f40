"""Engine and session handling shared by the web app, workers and the CLI."""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func
from sqlalchemy.orm import Session, sessionmaker

_engines: dict[str, Engine] = {}
log = logging.getLogger(__name__)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Web, worker and scheduler share one SQLite file: WAL lets readers run beside the
        # single writer, and a busy timeout turns lock contention into waiting, not errors.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def get_engine(url: str) -> Engine:
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url)
    return engine


def _forget_parent_connections() -> None:
    # A forked child (Celery prefork) must not use the sockets of its parent's pool: the parent's
    # sweeper and lease renewer keep using them.
    for engine in _engines.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_parent_connections)


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE/DELETE (typed Result objects do not declare it)."""
    return int(getattr(result, "rowcount", 0) or 0)


def after_commit(session: Session, action: Callable[[], object]) -> None:
    """Run ``action`` once the session's transaction committed (never if it rolls back).

    What was committed stands: an action that fails is logged and must not fail the request.
    """
    pending: list[Callable[[], object]] = session.info.setdefault("after_commit_actions", [])
    if not pending:
        def run(_s: Session) -> None:
            todo, pending[:] = list(pending), []
            for fn in todo:
                try:
                    fn()
                except Exception:
                    log.exception("after-commit action failed")

        event.listen(session, "after_commit", run, once=True)
        event.listen(session, "after_rollback", lambda _s: pending.clear(), once=True)
    pending.append(action)


def insert_ignoring_duplicates(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys), skipping any that would break a unique constraint.

    Core, not ORM: the ORM splits rows whose None columns differ into separate statements.
    """
    if not rows:
        return
    table = model.__table__
    if is_postgres(session):
        _copy_ignoring_duplicates(session, table, rows)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(table).on_conflict_do_nothing(), rows)


COPY_AT_LEAST = 200  # rows: below this one INSERT is as quick as COPY and its staging


def _copy_ignoring_duplicates(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY into a session-local staging table, then one INSERT … SELECT … ON CONFLICT
    DO NOTHING. COPY does not know ON CONFLICT; the staging table has no constraints to check."""
    columns = list(rows[0])
    if len(rows) < COPY_AT_LEAST:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(table).on_conflict_do_nothing(), rows)
        return
    stage, name = f"_stage_{table.name}", table.name
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        # Every column of the table, not this call's: the staging table outlives the call on its
        # pooled connection, and the next call may fill other columns (a personalised correction's
        # csv_row_id after an ordinary send's rows).
        cursor.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" AS SELECT * FROM "{name}" WITH NO DATA')
        with cursor.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([_plain(row[c]) for c in columns])
        cursor.execute(f'INSERT INTO "{name}" ({names}) SELECT {names} FROM "{stage}" ON CONFLICT DO NOTHING')
        cursor.execute(f'TRUNCATE "{stage}"')
    finally:
        cursor.close()


def _plain(value: Any) -> Any:
    # psycopg would write an Enum by its name; the column holds its value.
    return value.value if isinstance(value, enum.Enum) else value


def lock_key(*parts: object) -> tuple[Any, Any]:
    """The two int4 keys of a PostgreSQL advisory lock named by ``parts``, scoped to the current schema.

    Advisory locks belong to the whole database: two hubs (or two test runs) in one database, each in
    its own schema, must never hold each other's sweeper, status applier, audit chain or batch
    claims. Use as ``func.pg_try_advisory_xact_lock(*lock_key("statuses"))``.
    """
    return func.hashtext(func.current_schema()), func.hashtext(":".join(str(p) for p in parts))
