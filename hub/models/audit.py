"""Append-only audit log: who did what to which object, and when — hash-chained.

Each row stores the hash of the row before it (``prev_hash``) and its own ``hash`` =
sha256(prev_hash + canonical JSON of at, actor, action, subject, detail). Editing a row breaks its
own hash; deleting one breaks the next row's ``prev_hash``; ``hub audit verify`` walks the chain
(:func:`verify_chain`) and names the first row that does not fit.

Writers take their place in the chain one at a time: on PostgreSQL under a transaction-level
advisory lock held until commit (so ids, and therefore the chain order, follow commit order);
SQLite lets one writer in at a time anyway, and the row is inserted before the previous hash is
read, so the read happens while this transaction already holds the write lock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Index, String, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.models.base import Base, BigId, UtcDateTime, utcnow

GENESIS = ""  # the prev_hash of the first row
# pg_advisory_xact_lock key of the chain (any constant no other lock in the hub uses: "audit" in ASCII).
CHAIN_LOCK = 0x61756469_74


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    hash: Mapped[str] = mapped_column(String(64), default="")


def canonical_time(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands back naive values; stored times are UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def row_hash(prev_hash: str, at: datetime, actor: str, action: str, subject_type: str, subject_id: str,
             detail: Any) -> str:
    content = json.dumps(
        {"at": canonical_time(at), "actor": actor, "action": action,
         "subject": [subject_type, subject_id], "detail": detail},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def hash_of(entry: AuditLog) -> str:
    return row_hash(entry.prev_hash, entry.at, entry.actor, entry.action, entry.subject_type,
                    entry.subject_id, entry.detail)


def audit(session: Session, actor: str, action: str, subject: object, **detail: Any) -> AuditLog:
    """Record an action on a model instance, or on ``(type, id)`` for things that are not rows."""
    if isinstance(subject, tuple):
        subject_type, subject_id = str(subject[0]), str(subject[1])
    else:
        subject_type = str(getattr(type(subject), "__tablename__", type(subject).__name__))
        subject_id = str(getattr(subject, "id", ""))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    # Hashed as it will read back: JSON turns tuples into lists, keys into strings, and so on.
    stored_detail = json.loads(json.dumps(detail, ensure_ascii=False, default=str))
    entry = AuditLog(at=utcnow(), actor=str(actor)[:100], action=action, subject_type=subject_type[:32],
                     subject_id=subject_id[:64], detail=stored_detail, prev_hash=GENESIS, hash="")
    session.add(entry)
    session.flush()  # our id, and on SQLite the write lock, before the previous hash is read
    previous = session.scalar(select(AuditLog.hash).where(AuditLog.id < entry.id)
                              .order_by(AuditLog.id.desc()).limit(1))
    entry.prev_hash = previous or GENESIS
    entry.hash = hash_of(entry)
    return entry


@dataclass(frozen=True)
class ChainBreak:
    row_id: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    rows: int
    head: str  # the hash of the last row: record it elsewhere to notice the newest rows being cut off
    broken: ChainBreak | None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain in id order; the first row whose hash or link does not fit is reported."""
    prev, count = GENESIS, 0
    for entry in _rows(session, batch):
        count += 1
        if entry.prev_hash != prev:
            return ChainReport(count, prev, ChainBreak(entry.id, "前の行とつながっていません（行の削除または改変）"))
        if hash_of(entry) != entry.hash:
            return ChainReport(count, prev, ChainBreak(entry.id, "内容がハッシュと一致しません（行の改変）"))
        prev = entry.hash
    return ChainReport(count, prev, None)


def entry_dict(entry: AuditLog) -> dict[str, Any]:
    return {"id": entry.id, "at": canonical_time(entry.at), "actor": entry.actor, "action": entry.action,
            "subject_type": entry.subject_type, "subject_id": entry.subject_id, "detail": entry.detail,
            "prev_hash": entry.prev_hash, "hash": entry.hash}


def list_entries(session: Session, since: datetime | None = None, limit: int = 1000,
                 after_id: int = 0) -> list[dict[str, Any]]:
    """Rows in chain order, from ``since`` (and after row ``after_id``, for paging)."""
    q = select(AuditLog).where(AuditLog.id > after_id).order_by(AuditLog.id).limit(limit)
    if since is not None:
        q = q.where(AuditLog.at >= since)
    return [entry_dict(e) for e in session.scalars(q)]


def _rows(session: Session, batch: int) -> Iterator[AuditLog]:
    last_id = 0
    while True:
        rows = list(session.scalars(select(AuditLog).where(AuditLog.id > last_id)
                                    .order_by(AuditLog.id).limit(batch)))
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id
        session.expunge_all()
