"""The demo's e-mail is signed (DKIM) and bounces come back, as at a configured city; the sandbox checks both."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from channels.dkim import load_signer

if TYPE_CHECKING:
    from sandbox import Sandbox

DEMO_DKIM_DOMAIN = "city.example.jp"  # the demo departments' senders
DEMO_DKIM_SELECTOR = "sandbox"
DEMO_KEY_FILE = "sandbox-dkim.pem"
DEMO_BOUNCE_DOMAIN = "bounce.city.example.jp"  # the demo's return paths (hub/bounces)


def demo_dkim(data_dir: Path, sandbox: Sandbox) -> dict[str, str]:
    """A key in the data directory (made once), published in the sandbox's DNS; the settings to use it."""
    key_file = data_dir / DEMO_KEY_FILE
    if not key_file.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    signer = load_signer(str(key_file), DEMO_DKIM_DOMAIN, DEMO_DKIM_SELECTOR)
    sandbox.publish_txt(*signer.dns_record())
    return {"HUB_SMTP_DKIM_DOMAIN": DEMO_DKIM_DOMAIN, "HUB_SMTP_DKIM_SELECTOR": DEMO_DKIM_SELECTOR,
            "HUB_SMTP_DKIM_KEY_FILE": str(key_file.resolve())}
