"""The sandbox inbox, in a real Chromium, says of each signed e-mail what a receiving server would."""

from __future__ import annotations

import smtplib
from dataclasses import replace
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from channels.base import Draft, Outcome
from channels.email import SMTP_POLICY, EmailChannel
from sandbox import Sandbox, SandboxClient
from tests.channels.helpers import build, by_id, make_batch, recipients, sandbox_settings
from tests.web.test_browser import _shoot, browser  # noqa: F401  (the Chromium fixture)

DRAFT = Draft(title="避難所開設", body="○○小学校に避難所を開設しました。", mode="exercise", sender_name="危機管理課")


def test_the_inbox_shows_a_good_and_a_forged_signature(
    sandbox: Sandbox, sandbox_client: SandboxClient, browser: object, tmp_path: Path  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By

    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    settings = replace(sandbox_settings(sandbox.http_url, sandbox.smtp_port), smtp_dkim_domain="city.example.jp",
                       smtp_dkim_selector="hub2026", smtp_dkim_key_file=str(key_file))
    ch = build("email", settings)
    assert isinstance(ch, EmailChannel)
    signer = ch.config.signer()
    assert signer is not None
    sandbox_client.publish_txt(*signer.dns_record())
    batch = make_batch(ch, DRAFT, recipients(["hanako@mail.example.jp"]), sender="bousai@city.example.jp")
    assert by_id(ch.deliver(batch))[1].outcome is Outcome.SENT
    # A forger's copy: the signed message with its subject changed on the way.
    signed = signer.sign(ch.build(batch, batch.recipients[0], "bousai@city.example.jp").as_bytes(policy=SMTP_POLICY))
    forged = signed.replace(b"Subject: ", b"Subject: =?utf-8?b?44CQ6KiC5q2j44CR?= ", 1)
    with smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=5) as smtp:
        smtp.sendmail("bousai@city.example.jp", ["taro@mail.example.jp"], forged)

    web = browser
    web.get(f"{sandbox.http_url}/sandbox/?channel=email")  # type: ignore[attr-defined]
    cards = {c.find_element(By.XPATH, ".//span[starts-with(., '宛先')]").text: c
             for c in web.find_elements(By.CSS_SELECTOR, ".item")}  # type: ignore[attr-defined]
    assert set(cards) == {"宛先: hanako@mail.example.jp", "宛先: taro@mail.example.jp"}
    good = cards["宛先: hanako@mail.example.jp"].find_element(By.CSS_SELECTOR, ".badge.dkim-pass")
    assert good.text == "DKIM 検証OK" and good.get_attribute("title") == "d=city.example.jp s=hub2026"
    bad = cards["宛先: taro@mail.example.jp"].find_element(By.CSS_SELECTOR, ".badge.dkim-fail")
    assert bad.text.startswith("DKIM 検証失敗")
    assert good.value_of_css_property("background-color") != bad.value_of_css_property("background-color")
    _shoot(web, tmp_path, "sandbox-dkim")
