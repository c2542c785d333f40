"""Append-only audit log: who did what to which object, and when — hash-chained.

Each row stores the hash of the row before it (``prev_hash``) and its own ``hash`` =
sha256(prev_hash + canonical JSON of at, actor, action, subject, detail). Editing a row breaks its
own hash; deleting one breaks the next row's ``prev_hash``; ``hub audit verify`` walks the chain
(:func:`verify_chain`) and names the first row that does not fit.

Rows are linked into the chain when their transaction commits (a ``before_commit`` hook), in
``seq`` order: on PostgreSQL under a transaction-level advisory lock taken right there, so two
transactions never chain onto the same row, and taken last, after every row lock the transaction
holds, so it cannot deadlock with them and is held only for the linking itself. SQLite lets one
writer in at a time; the transaction already holds the write lock when it links (it inserted its
rows), so the previous hash it reads is the latest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, event, func, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db import lock_key
from hub.models.base import Base, BigId, UtcDateTime, utcnow

GENESIS = ""  # the prev_hash of the first row


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
    # Position in the chain (commit order), set when the row is linked; ids follow insert order.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)


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
    # Hashed as it will read back: JSON turns tuples into lists, keys into strings, and so on.
    stored_detail = json.loads(json.dumps(detail, ensure_ascii=False, default=str))
    entry = AuditLog(at=utcnow(), actor=str(actor)[:100], action=action, subject_type=subject_type[:32],
                     subject_id=subject_id[:64], detail=stored_detail, prev_hash=GENESIS, hash="")
    session.add(entry)
    session.info.setdefault(_PENDING, []).append(entry)
    return entry


_PENDING = "hub.audit.unlinked"


@event.listens_for(Session, "before_commit")
def _link_on_commit(session: Session) -> None:
    entries = session.info.pop(_PENDING, None)
    if not entries:
        return
    session.flush()
    # Rows of a rolled-back savepoint are gone from the session: nothing to link.
    entries = sorted((e for e in entries if inspect(e).persistent), key=lambda e: e.id)
    if not entries:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(*lock_key("audit"))))
    last = session.execute(select(AuditLog.seq, AuditLog.hash).where(AuditLog.seq.is_not(None))
                           .order_by(AuditLog.seq.desc()).limit(1)).first()
    seq, prev = (int(last.seq), last.hash) if last is not None else (0, GENESIS)
    for entry in entries:
        seq += 1
        entry.seq, entry.prev_hash = seq, prev
        entry.hash = prev = hash_of(entry)
    session.flush()


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, previous_transaction: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)


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
    """Walk the chain in order; the first row whose hash or link does not fit is reported."""
    unlinked = session.scalar(select(func.min(AuditLog.id)).where(AuditLog.seq.is_(None)))
    if unlinked is not None:  # every committed row is linked: this one was inserted behind audit()'s back
        return ChainReport(0, GENESIS, ChainBreak(int(unlinked), "チェーンに含まれていない行です（直接の挿入）"))
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
            "seq": entry.seq, "prev_hash": entry.prev_hash, "hash": entry.hash}


def list_entries(session: Session, since: datetime | None = None, limit: int = 1000,
                 after_id: int = 0) -> list[dict[str, Any]]:
    """Rows in chain order, from ``since`` (and after row ``after_id``, for paging)."""
    q = select(AuditLog).where(AuditLog.id > after_id).order_by(AuditLog.id).limit(limit)
    if since is not None:
        q = q.where(AuditLog.at >= since)
    return [entry_dict(e) for e in session.scalars(q)]


def _rows(session: Session, batch: int) -> Iterator[AuditLog]:
    last_seq = 0
    while True:
        rows = list(session.scalars(select(AuditLog).where(AuditLog.seq > last_seq)
                                    .order_by(AuditLog.seq).limit(batch)))
        if not rows:
            return
        yield from rows
        last_seq = rows[-1].seq or last_seq
        session.expunge_all()
