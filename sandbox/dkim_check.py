"""What a receiving mail server would say of a message's DKIM signature, as the sandbox sees it.

dkimpy verifies (an implementation independent of the hub's signer); "DNS" is the sandbox's own
table of TXT records, filled by whoever runs it (``Sandbox.publish_txt``, ``hub demo``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import dkim

# dkimpy logs every failed check at ERROR: the sandbox reports it in the inbox instead.
logging.getLogger("dkim").setLevel(logging.CRITICAL)


def dkim_verdict(raw: bytes, txt_records: Mapping[str, str]) -> dict[str, Any] | None:
    """``None`` for an unsigned message, else the verdict on its first signature:
    ``{"result": "pass" | "fail", "domain", "selector", "signed_headers", "reason"}``."""
    head = raw.split(b"\r\n\r\n", 1)[0].lower()
    if b"\ndkim-signature:" not in b"\n" + head:
        return None

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        record = txt_records.get(name.decode("ascii", "replace").rstrip(".").lower())
        return record.encode() if record is not None else None

    checker = dkim.DKIM(raw, logger=logging.getLogger("dkim"))
    try:
        passed = bool(checker.verify(dnsfunc=lookup))
        reason = "" if passed else "署名が本文またはヘッダーと一致しません"
    except dkim.DKIMException as exc:
        passed, reason = False, str(exc)
    return {
        "result": "pass" if passed else "fail",
        "domain": (checker.domain or b"").decode("ascii", "replace"),
        "selector": (checker.selector or b"").decode("ascii", "replace"),
        "signed_headers": [h.decode("ascii", "replace") for h in checker.include_headers or ()],
        "reason": reason,
    }
