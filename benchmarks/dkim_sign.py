"""What a DKIM signature costs per e-mail: the hub's signer (OpenSSL, through cryptography) beside
dkimpy's signer (pure-Python RSA), on the message the e-mail channel really builds.

    .venv/bin/python benchmarks/dkim_sign.py [--messages 300]

Prints one JSON object: milliseconds of CPU per signed message for each, and both signatures'
verdict from dkimpy's verifier (the sandbox's), so a fast but wrong signer cannot look good.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from channels import registry
from channels.base import Batch, ChannelContext, Draft, Recipient
from channels.dkim import DkimSigner
from channels.email import SMTP_POLICY
from hub.config import Settings

DOMAIN, SELECTOR = "city.example.jp", "bench"
SIGNED = [h.encode() for h in ("from", "to", "subject", "date", "message-id", "mime-version", "content-type",
                               "list-unsubscribe", "list-unsubscribe-post")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    signer = DkimSigner.from_pem(pem, DOMAIN, SELECTOR)
    name, value = signer.dns_record()

    def dns(query: bytes, timeout: int = 5) -> bytes | None:
        return value.encode() if query.decode().rstrip(".") == name else None

    channel = registry.build("email", replace(Settings(), smtp_host="127.0.0.1"), ChannelContext())
    draft = Draft(title="避難指示", body="○○川が氾濫危険水位に達しました。直ちに避難してください。" * 4,
                  mode="actual", sender_name="危機管理課")
    people = [Recipient(delivery_id=i, address=f"resident{i}@mail.example.jp") for i in range(1, args.messages + 1)]
    batch = Batch(message_id=1, batch_no=1, recipients=people, contents={"ja": channel.render(draft)},
                  sender="bousai@city.example.jp", idempotency_key="bench", attempt=1,
                  links={p.delivery_id: {"unsubscribe": f"https://city.example.jp/r/u/t{p.delivery_id}"}
                         for p in people})
    messages = [channel.build(batch, p, "bousai@city.example.jp").as_bytes(policy=SMTP_POLICY)  # type: ignore[attr-defined]
                for p in people]

    started = time.process_time()
    ours = [signer.sign(m) for m in messages]
    ours_ms = (time.process_time() - started) * 1000 / len(messages)

    sample = messages[: max(1, len(messages) // 10)]  # dkimpy is slow: a tenth is enough to time it
    started = time.process_time()
    theirs = [dkim.sign(m, SELECTOR.encode(), DOMAIN.encode(), pem, canonicalize=(b"relaxed", b"relaxed"),
                        include_headers=SIGNED) + m for m in sample]
    theirs_ms = (time.process_time() - started) * 1000 / len(sample)

    print(json.dumps({
        "messages": len(messages), "key_bits": 2048,
        "hub_signer_ms_per_message": round(ours_ms, 3),
        "dkimpy_signer_ms_per_message": round(theirs_ms, 3),
        "cpu_minutes_for_100000_hub": round(ours_ms * 100_000 / 60_000, 2),
        "cpu_minutes_for_100000_dkimpy": round(theirs_ms * 100_000 / 60_000, 2),
        "hub_signatures_verify": all(dkim.verify(m, dnsfunc=dns) for m in ours),
        "dkimpy_signatures_verify": all(dkim.verify(m, dnsfunc=dns) for m in theirs),
    }, indent=2))


if __name__ == "__main__":
    main()
