"""E-mail over TLS verifies the server's certificate (system CAs, or HUB_SMTP_CA_FILE for a private
CA), never falls back to plain text, and sends to non-ASCII addresses when the server offers SMTPUTF8.
Against the sandbox's SMTP server with a certificate made for this test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from channels.base import Draft, Outcome
from channels.errors import Unreachable
from hub.config import Settings
from sandbox import Sandbox
from tests.support.certs import Pki, make_pki

from .helpers import build, by_id, make_batch, recipients, sandbox_settings

DRAFT = Draft(title="避難所開設", body="○○小学校に避難所を開設しました。", mode="exercise")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_sandbox(pki: Pki) -> Iterator[Sandbox]:
    with Sandbox(smtp_tls_context=pki.server_context()) as sb:
        yield sb


def _settings(sb: Sandbox, **values: object) -> Settings:
    return replace(sandbox_settings(sb.http_url, sb.smtp_port), **values)  # type: ignore[arg-type]


def _send(settings: Settings, addresses: list[str], sender: str = "bousai@city.example.jp") -> dict[int, object]:
    ch = build("email", settings)
    return by_id(ch.deliver(make_batch(ch, DRAFT, recipients(addresses), sender=sender)))


def test_starttls_with_an_untrusted_certificate_sends_nothing(tls_sandbox: Sandbox) -> None:
    tls_sandbox.clear()
    ch = build("email", _settings(tls_sandbox, smtp_starttls=True))  # the system CAs do not know ours
    with pytest.raises(Unreachable, match="証明書を検証できませんでした"):
        ch._connect()  # type: ignore[attr-defined]
    results = list(_send(_settings(tls_sandbox, smtp_starttls=True), ["a@example.jp"]).values())
    # Nothing left this machine: retried (once the CA is configured), never sent unverified.
    assert [r.outcome for r in results] == [Outcome.RETRY]  # type: ignore[attr-defined]
    assert "証明書" in results[0].error  # type: ignore[attr-defined]
    assert tls_sandbox.inbox("email") == []


def test_starttls_with_the_private_ca_configured_delivers(tls_sandbox: Sandbox, pki: Pki) -> None:
    tls_sandbox.clear()
    settings = _settings(tls_sandbox, smtp_starttls=True, smtp_ca_file=str(pki.ca_file))
    results = _send(settings, ["a@example.jp"])
    assert {r.outcome for r in results.values()} == {Outcome.SENT}  # type: ignore[attr-defined]
    assert len(tls_sandbox.inbox("email", "a@example.jp")) == 1


def test_a_certificate_for_another_name_is_refused(tls_sandbox: Sandbox, pki: Pki) -> None:
    """The certificate names 127.0.0.1; reaching the same server as "localhost" must not pass."""
    tls_sandbox.clear()
    settings = _settings(tls_sandbox, smtp_host="localhost", smtp_starttls=True, smtp_ca_file=str(pki.ca_file))
    with pytest.raises(Unreachable, match="証明書"):
        build("email", settings)._connect()  # type: ignore[attr-defined]


def test_smtps_verifies_the_certificate_too(pki: Pki) -> None:
    with Sandbox(smtp_tls_context=pki.server_context(), smtp_implicit_tls=True) as smtps:
        untrusted = _settings(smtps, smtp_ssl=True)
        with pytest.raises(Unreachable, match="証明書"):
            build("email", untrusted)._connect()  # type: ignore[attr-defined]
        results = _send(_settings(smtps, smtp_ssl=True, smtp_ca_file=str(pki.ca_file)), ["a@example.jp"])
        assert {r.outcome for r in results.values()} == {Outcome.SENT}  # type: ignore[attr-defined]
        assert len(smtps.inbox("email", "a@example.jp")) == 1


def test_starttls_required_but_not_offered_is_never_plain_text(sb: Sandbox) -> None:
    settings = _settings(sb, smtp_starttls=True)  # the module's plain sandbox offers no STARTTLS
    with pytest.raises(Unreachable):
        build("email", settings)._connect()  # type: ignore[attr-defined]
    assert sb.inbox("email") == []


def test_non_ascii_addresses_go_out_with_smtputf8(sb: Sandbox) -> None:
    results = _send(_settings(sb), ["山田@例え.jp", "a@example.jp"], sender="防災@city.example.jp")
    assert {r.outcome for r in results.values()} == {Outcome.SENT}  # type: ignore[attr-defined]
    mail = sb.inbox("email", "山田@例え.jp")
    assert len(mail) == 1 and mail[0]["meta"]["mail_from"] == "防災@city.example.jp"
    assert "山田@例え.jp" in dict(mail[0]["meta"]["headers"])["To"]


def test_non_ascii_address_without_smtputf8_fails_that_recipient_only(tmp_path: Path) -> None:
    with Sandbox(smtp_utf8=False) as plain:
        results = _send(_settings(plain), ["山田@例え.jp", "a@example.jp"])
        outcomes = {r.outcome for r in results.values()}  # type: ignore[attr-defined]
        assert outcomes == {Outcome.FAILED, Outcome.SENT}
        failed = next(r for r in results.values() if r.outcome is Outcome.FAILED)  # type: ignore[attr-defined]
        assert "SMTPUTF8" in failed.error  # type: ignore[attr-defined]
        assert [m["to"] for m in plain.inbox("email")] == ["a@example.jp"]
