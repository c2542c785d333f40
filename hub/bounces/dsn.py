"""Reading a delivery status notification (RFC 3464): what happened to our message, and why.

Postfix, Exim, Sendmail, Microsoft Exchange/365 and Gmail all report with ``multipart/report;
report-type=delivery-status``. A report in another shape (a few old servers write free text) is
not guessed at: it is logged and changes nothing, since an auto-reply or a spam message sent to
the return path would look much the same.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message

DIAGNOSTIC_MAX = 200
_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


@dataclass(frozen=True)
class Dsn:
    action: str  # failed | delayed | delivered | relayed | expanded (lower case)
    status: str  # the enhanced status code, e.g. 5.1.1 (RFC 3463)
    recipient: str  # the Final-Recipient's address
    diagnostic: str  # the remote server's own words, shortened

    @property
    def failed(self) -> bool:
        return self.action == "failed"

    @property
    def address_unknown(self) -> bool:
        """5.1.x: the mailbox or its domain does not exist (X.1.x is "addressing status"); not a full
        mailbox (5.2.2) or a policy refusal (5.7.x), which say nothing bad of the address."""
        return self.failed and self.status.startswith("5.1.")


def read_dsn(raw: bytes) -> Dsn | None:
    """The first per-recipient report (a failed one preferred), or ``None`` if this is not a DSN."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:
        return None
    if message.get_content_type() != "multipart/report":
        return None
    blocks = _status_blocks(message)
    reports = [b for b in blocks[1:] if b.get("Action")]  # the first block is about the message
    if not reports:
        return None
    chosen = next((b for b in reports if _clean(b.get("Action")).lower() == "failed"), reports[0])
    status = _clean(chosen.get("Status")).split(" ")[0]
    if not _STATUS.match(status):
        status = "5.0.0" if _clean(chosen.get("Action")).lower() == "failed" else "4.0.0"
    recipient = _clean(chosen.get("Final-Recipient") or chosen.get("Original-Recipient"))
    return Dsn(action=_clean(chosen.get("Action")).lower(), status=status,
               recipient=recipient.partition(";")[2].strip() or recipient,
               diagnostic=_clean(chosen.get("Diagnostic-Code")).partition(";")[2].strip()[:DIAGNOSTIC_MAX])


def _status_blocks(message: Message) -> list[Message]:
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        if isinstance(payload, list):  # the email package parses the blocks as header sets
            return [p for p in payload if isinstance(p, Message)]
        if isinstance(payload, str):
            text = payload.replace("\r\n", "\n")
            return [email.message_from_string(block + "\n") for block in re.split(r"\n\s*\n", text) if block.strip()]
    return []


def _clean(value: object) -> str:
    return " ".join(str(value or "").split())


# What an enhanced status code (RFC 3463) means, for the delivery history; the most specific first.
MEANINGS = (
    ("5.1.1", "宛先のメールアドレスが存在しません"),
    ("5.1.2", "宛先のドメインが存在しません"),
    ("5.1.10", "宛先のドメインはメールを受け取りません"),
    ("5.1.", "宛先のアドレスが正しくありません"),
    ("5.2.2", "相手のメールボックスが一杯です"),
    ("5.2.", "相手のメールボックスが受け取れません"),
    ("5.3.4", "メールが大きすぎます"),
    ("5.7.", "相手のサーバーが受け取りを拒否しました（迷惑メール対策など。送信元の設定を確認してください）"),
    ("4.", "相手のサーバーに一時的な問題があり、中継サーバーが配信をあきらめました"),
    ("5.", "相手のサーバーが受け取りませんでした"),
)


def meaning(status: str) -> str:
    return next((text for prefix, text in MEANINGS if status == prefix or (prefix.endswith(".") and
                                                                             status.startswith(prefix))),
                "相手のサーバーが受け取りませんでした")
