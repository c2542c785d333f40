"""``hub admin dkim-record``: what an administrator publishes in DNS before turning signing on."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from channels.dkim import DkimSigner
from hub.app import create_app
from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.config import Settings
from tests.api.support import TOKENS, seed


def test_an_admin_prints_the_txt_record_and_a_sender_may_not(settings: Settings, tmp_path: Path) -> None:
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    app = create_app(replace(settings, smtp_dkim_domain="city.example.jp", smtp_dkim_selector="hub2026",
                             smtp_dkim_key_file=str(key_file)))
    seed(app, residents=0, staff=0)
    hub = HubContext()
    hub._app = app

    def run(who: str, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["admin", "dkim-record", *args], obj=hub, env={TOKEN_ENV: TOKENS[who]})
        return result.exit_code, result.output

    code, out = run("admin", "--json")
    assert code == 0, out
    record = json.loads(out)
    name, value = DkimSigner.from_pem(key_file.read_bytes(), "city.example.jp", "hub2026").dns_record()
    assert record == {"name": "hub2026._domainkey.city.example.jp", "type": "TXT", "value": value}
    assert name == record["name"] and value.startswith("v=DKIM1; k=rsa; p=")

    # The zone-file form: quoted strings of at most 255 characters, which join back to the value.
    code, out = run("admin")
    assert code == 0 and out.startswith("hub2026._domainkey.city.example.jp. IN TXT (")
    strings = out.split("(", 1)[1].rsplit(")", 1)[0].split('"')[1::2]
    assert all(len(s) <= 255 for s in strings) and "".join(strings) == value

    code, out = run("bousai1")
    assert code != 0 and "管理" in out
