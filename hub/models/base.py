"""Declarative base and column helpers shared by all models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, MetaData, Table, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

# Explicit constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a real bigint.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# The largest id of a plain INTEGER key (messages, call-outs, lists …) and of a BigId one. Ids from
# outside are checked against these: PostgreSQL answers a larger one with an error (a 500), not "none".
MAX_INT_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1
# A provider's id for one request: an SMS sid is 34 characters, but an e-mail's is its Message-ID,
# which carries the sender's domain (a city's can be long): <bousai-hub.m….d…@domain> with ids of
# 19 digits and a 253-character domain still fits.
PROVIDER_ID_MAX = 320


class _UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware on every database: SQLite returns naive values, which we know are UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


UtcDateTime = _UtcDateTime()


def utcnow() -> datetime:
    return datetime.now(UTC)


def table_of(model: type[Any]) -> Table:
    """The Core table of a mapped class, typed, for bulk statements that bypass the ORM."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
