"""DKIM: the hub signs its own e-mail and a receiving server (dkimpy, in the sandbox) verifies it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from channels.base import Draft, Outcome
from channels.dkim import DkimSigner
from channels.email import SMTP_POLICY, EmailChannel
from hub.config import ConfigError, Settings
from sandbox import Sandbox
from sandbox.dkim_check import dkim_verdict

from .helpers import build, by_id, make_batch, recipients

DOMAIN, SELECTOR = "city.example.jp", "hub2026"
SENDER = "bousai@city.example.jp"
DRAFT = Draft(title="避難指示", body="○○川が氾濫危険水位に達しました。\n\n直ちに避難してください。", mode="exercise",
              sender_name="危機管理課")


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dkim") / "dkim.pem"
    path.write_bytes(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    return path


@pytest.fixture
def signing(sb: Sandbox, settings: Settings, key_file: Path) -> Settings:
    """Settings that sign, with the key published in the sandbox's DNS."""
    signed = replace(settings, smtp_dkim_domain=DOMAIN, smtp_dkim_selector=SELECTOR, smtp_dkim_key_file=str(key_file))
    signed.check_dkim()
    sb.publish_txt(*DkimSigner.from_pem(key_file.read_bytes(), DOMAIN, SELECTOR).dns_record())
    return signed


def _links(n: int) -> dict[int, dict[str, str]]:
    return {i: {"unsubscribe": f"https://city.example.jp/r/u/token{i}",
                "preferences": f"https://city.example.jp/r/p/token{i}"} for i in range(1, n + 1)}


def _signed_bytes(settings: Settings, address: str = "a@example.jp") -> tuple[bytes, dict[str, str]]:
    ch = build("email", settings)
    assert isinstance(ch, EmailChannel)
    batch = replace(make_batch(ch, DRAFT, recipients([address]), sender=SENDER), links=_links(1))
    message = ch.build(batch, batch.recipients[0], SENDER).as_bytes(policy=SMTP_POLICY)
    signer = ch.config.signer()
    assert signer is not None
    name, value = signer.dns_record()
    return signer.sign(message), {name: value}


def test_every_message_is_signed_and_a_receiving_server_verifies_it(sb: Sandbox, signing: Settings) -> None:
    ch = build("email", signing)
    addresses = ["a@example.jp", "b@example.jp", "日本語@例え.jp"]  # the last needs SMTPUTF8
    batch = replace(make_batch(ch, DRAFT, recipients(addresses), sender=SENDER), links=_links(3))
    results = by_id(ch.deliver(batch))
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    for address in addresses:
        (mail,) = sb.inbox("email", address)
        verdict = mail["meta"]["dkim"]
        assert verdict["result"] == "pass", verdict
        assert (verdict["domain"], verdict["selector"]) == (DOMAIN, SELECTOR)
        # RFC 8058: the one-click headers count only when the signature covers them.
        assert {"from", "subject", "list-unsubscribe", "list-unsubscribe-post"} <= set(verdict["signed_headers"])
        assert mail["subject"] == "【訓練】避難指示"


def test_without_the_settings_nothing_is_signed(sb: Sandbox, settings: Settings) -> None:
    ch = build("email", settings)
    assert by_id(ch.deliver(make_batch(ch, DRAFT, recipients(["a@example.jp"]), sender=SENDER)))[1].outcome \
        is Outcome.SENT
    (mail,) = sb.inbox("email", "a@example.jp")
    assert mail["meta"]["dkim"] is None
    assert "DKIM-Signature" not in {name for name, _ in mail["meta"]["headers"]}


@pytest.mark.parametrize("tamper", [
    pytest.param(lambda m: m.replace(b"https://city.example.jp/r/u/token1", b"https://evil.example/r/u/token1"),
                 id="unsubscribe link changed"),
    # Added on top, where a verifier that took only the bottom instance would still pass it: the
    # signature lists these names once more than the message has them (oversigning).
    pytest.param(lambda m: b"List-Unsubscribe: <https://evil.example/u>\r\n" + m, id="a second unsubscribe link"),
    pytest.param(lambda m: b"From: =?utf-8?b?5biC6ZW3?= <mayor@evil.example>\r\n" + m, id="a second From"),
    pytest.param(lambda m: m.replace(b"Subject: ", b"Subject: [\xe8\xa8\x82\xe6\xad\xa3] "), id="subject changed"),
])
def test_a_forged_change_fails_verification(signing: Settings, tamper: object) -> None:
    signed, dns = _signed_bytes(signing)
    assert dkim_verdict(signed, dns)["result"] == "pass"  # type: ignore[index]
    assert callable(tamper)
    forged = tamper(signed)
    assert forged != signed
    assert dkim_verdict(forged, dns)["result"] == "fail"  # type: ignore[index]


def test_a_relay_that_refolds_headers_and_trims_spaces_keeps_the_signature(signing: Settings) -> None:
    # relaxed/relaxed: what ordinary relays do to whitespace must not fail the signature.
    signed, dns = _signed_bytes(signing)
    head, _, body = signed.partition(b"\r\n\r\n")
    refolded = head.replace(b"Subject: ", b"Subject:   ").replace(b"Auto-Submitted: auto-generated",
                                                                      b"Auto-Submitted:\r\n auto-generated")
    relayed = refolded + b"\r\n\r\n" + body.replace(b"\r\n", b"  \r\n") + b"\r\n\r\n"
    assert dkim_verdict(relayed, dns)["result"] == "pass"  # type: ignore[index]


def test_an_unpublished_key_fails_as_it_would_at_a_real_server(signing: Settings) -> None:
    signed, _dns = _signed_bytes(signing)
    verdict = dkim_verdict(signed, {})
    assert verdict is not None and verdict["result"] == "fail" and verdict["reason"]


def test_the_sandbox_dns_is_filled_over_http(sb: Sandbox) -> None:
    from sandbox.client import SandboxClient

    client = SandboxClient(sb.http_url)
    client.publish_txt("s1._domainkey.Example.JP.", "v=DKIM1; k=rsa; p=AAAA")
    listed = client._call("GET", "/sandbox/dns")
    assert listed["txt"]["s1._domainkey.example.jp"] == "v=DKIM1; k=rsa; p=AAAA"
    bad = client.session.post(f"{sb.http_url}/sandbox/dns", data=b"{not json", timeout=5)
    assert bad.status_code == 400


def test_a_half_configured_or_unusable_key_stops_the_start(settings: Settings, key_file: Path,
                                                            tmp_path: Path) -> None:
    # Development too: unsigned mail from a domain with DMARC goes to spam, and nobody would see why.
    with pytest.raises(ConfigError, match="HUB_SMTP_DKIM_KEY_FILE"):
        replace(settings, smtp_dkim_domain=DOMAIN, smtp_dkim_selector=SELECTOR).check_startup(["email"])
    with pytest.raises(ConfigError, match="読めません"):
        replace(settings, smtp_dkim_domain=DOMAIN, smtp_dkim_selector=SELECTOR,
                smtp_dkim_key_file=str(tmp_path / "missing.pem")).check_startup(["email"])
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ConfigError, match="RSA鍵"):
        replace(settings, smtp_dkim_domain=DOMAIN, smtp_dkim_selector=SELECTOR,
                smtp_dkim_key_file=str(ec_key)).check_startup(["email"])
    with pytest.raises(ConfigError, match="セレクター"):
        replace(settings, smtp_dkim_domain=DOMAIN, smtp_dkim_selector="bad selector!",
                smtp_dkim_key_file=str(key_file)).check_startup(["email"])
    replace(settings, smtp_dkim_domain=DOMAIN, smtp_dkim_selector=SELECTOR,
            smtp_dkim_key_file=str(key_file)).check_startup(["email"])  # complete: starts


def test_a_key_gone_after_the_start_holds_the_mail_back_to_retry(sb: Sandbox, settings: Settings,
                                                                   tmp_path: Path) -> None:
    gone = replace(settings, smtp_dkim_domain=DOMAIN, smtp_dkim_selector=SELECTOR,
                   smtp_dkim_key_file=str(tmp_path / "removed.pem"))
    ch = build("email", gone)
    results = by_id(ch.deliver(make_batch(ch, DRAFT, recipients(["a@example.jp", "b@example.jp"]), sender=SENDER)))
    assert {r.outcome for r in results.values()} == {Outcome.RETRY}
    assert all(r.attempted is False and "removed.pem" in (r.error or "") for r in results.values())
    assert sb.inbox("email") == []


def test_the_signature_is_added_on_top_and_the_message_is_untouched_below(signing: Settings) -> None:
    ch = build("email", signing)
    assert isinstance(ch, EmailChannel)
    batch = replace(make_batch(ch, DRAFT, recipients(["a@example.jp"]), sender=SENDER), links=_links(1))
    message = ch.build(batch, batch.recipients[0], SENDER).as_bytes(policy=SMTP_POLICY)
    signer = ch.config.signer()
    assert signer is not None
    signed = signer.sign(message)
    signature, sep, rest = signed.partition(b"\r\nFrom: ")
    assert signature.startswith(b"DKIM-Signature: v=1;") and sep
    assert rest == message.partition(b"From: ")[2]
    assert all(len(line) <= 998 for line in signed.split(b"\r\n"))  # RFC 5322's line limit
    # The provider id the hub records is still this message's own Message-ID.
    assert EmailChannel.message_id_of(signed) == "<bousai-hub.m42.d1@city.example.jp>"
