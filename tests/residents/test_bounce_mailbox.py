"""Bounces read from the city's bounce mailbox (POP3), where the bounce domain's MX is the city's own
mail server: each report fails its row as the SMTP receiver's would, is deleted only once recorded,
and waits in the mailbox whenever it cannot be recorded now. Nothing is lost, nothing applied twice."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from hub.bounces import receiver as module  # where each report is recorded, by SMTP or from the mailbox
from hub.bounces.addresses import return_path
from hub.bounces.mailbox import MailboxError, fetch_bounces
from hub.celery_app import celery_config
from hub.cli import main
from hub.cli.context import HubContext
from hub.config import ConfigError, Settings
from hub.models import AuditLog, Contact, Delivery
from hub.runtime import Runtime
from sandbox import SANDBOX_POP3_PASSWORD, SANDBOX_POP3_USER, Sandbox, SandboxClient
from sandbox.dsn import delivery_report
from tests.api.support import seed
from tests.health.test_metrics import samples
from tests.residents.support import OSHU, add_resident
from tests.support.certs import make_pki
from tests.support.hubtools import rows, send, wait_for

BOUNCE_DOMAIN = "bounce.city.example.jp"
GONE, FINE = "gone@mail.example.jp", "fine@mail.example.jp"


@pytest.fixture
def settings(settings: Settings, sandbox: Sandbox) -> Settings:
    return replace(settings, bounce_domain=BOUNCE_DOMAIN,
                   bounce_mailbox_url=f"pop3://{SANDBOX_POP3_USER}@127.0.0.1:{sandbox.pop3_port}",
                   bounce_mailbox_password=SANDBOX_POP3_PASSWORD)


@pytest.fixture
def mailbox(app: Flask, sandbox: Sandbox, sandbox_client: SandboxClient) -> Iterator[Sandbox]:
    """The sandbox's relay files its delivery reports in the city's bounce mailbox."""
    seed(app, residents=0, staff=0)
    sandbox_client.set_bounce_target(None, mailbox=True)
    yield sandbox
    sandbox_client.set_bounce_target(None)
    sandbox.ctx.bounce_mailbox.clear()


def _row(runtime: Runtime, message_id: int, address: str) -> Delivery:
    (row,) = [r for r in rows(runtime, message_id, "email") if r.address == address]
    return row


def _sent_to(runtime: Runtime, address: str) -> tuple[int, Delivery]:
    add_resident(runtime, name="本人", email=address)
    message_id = send(runtime, channels=["email"], audience=f"area:{OSHU}", category_code="bousai",
                      title="避難指示", body="直ちに避難してください。")
    wait_for(lambda: _row(runtime, message_id, address).state == "sent")
    return message_id, _row(runtime, message_id, address)


def _file_report(runtime: Runtime, sandbox: Sandbox, row: Delivery, recipient: str) -> None:
    address = return_path(runtime.settings.secret_key, BOUNCE_DOMAIN, row.id)
    sandbox.ctx.bounce_mailbox.file(delivery_report(b"Subject: x\r\n\r\n", recipient, "bounce"), address)


def test_reports_in_the_mailbox_fail_their_rows_and_leave_it(
        mailbox: Sandbox, app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    gone = add_resident(runtime, name="宛先不明", email=GONE)
    add_resident(runtime, name="届く人", email=FINE)
    sandbox_client.inject_fault("email", "bounce", match=GONE)
    message_id = send(runtime, channels=["email"], audience=f"area:{OSHU}", category_code="bousai",
                      title="避難指示", body="直ちに避難してください。")
    wait_for(lambda: sandbox_client.stats().get("smtp.bounce.sent", 0) == 1)
    fine = _row(runtime, message_id, FINE)
    # Also in the mailbox: an auto-reply to a real return path, and a report to a made-up one.
    good = return_path(runtime.settings.secret_key, BOUNCE_DOMAIN, fine.id)
    mailbox.ctx.bounce_mailbox.file(b"From: someone@example.jp\r\nSubject: Out of office\r\n\r\nI am away.\r\n", good)
    mailbox.ctx.bounce_mailbox.file(delivery_report(b"Subject: x\r\n\r\n", FINE, "bounce"),
                                    good.replace(good.split("-")[2].split("@")[0], "a" * 13))

    assert fetch_bounces(runtime).as_dict() == {"recorded": 1, "ignored": 2, "kept": 0}
    assert len(mailbox.ctx.bounce_mailbox) == 0
    wait_for(lambda: _row(runtime, message_id, GONE).state == "failed")
    failed = _row(runtime, message_id, GONE)
    assert failed.error_code == "5.1.1" and "宛先のメールアドレスが存在しません" in (failed.error or "")
    assert _row(runtime, message_id, FINE).state == "sent"
    with runtime.session() as s:
        assert s.get(Contact, gone).email_bounced_at is not None  # type: ignore[union-attr]

    hub = HubContext()
    hub._app = app
    again = CliRunner().invoke(main, ["bounces", "fetch", "--json"], obj=hub)
    assert again.exit_code == 0 and again.output.strip() == '{"recorded": 0, "ignored": 0, "kept": 0}'
    scraped = samples(app.test_client().get("/metrics").get_data(as_text=True))
    assert {o: scraped[("hub_bounce_reports_total", (("outcome", o),))] for o in ("recorded", "ignored", "kept")} \
        == {"recorded": 1, "ignored": 2, "kept": 0}
    assert scraped[("hub_bounce_mailbox_errors_total", ())] == 0


def test_a_report_the_database_cannot_take_now_waits_in_the_mailbox(
        mailbox: Sandbox, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    message_id, row = _sent_to(runtime, GONE)
    _file_report(runtime, mailbox, row, GONE)
    real = module.record_bounce

    def database_away(*args: object) -> None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(module, "record_bounce", database_away)
    assert fetch_bounces(runtime).kept == 1
    assert len(mailbox.ctx.bounce_mailbox) == 1 and _row(runtime, message_id, GONE).state == "sent"
    monkeypatch.setattr(module, "record_bounce", real)  # the database is back
    assert fetch_bounces(runtime).recorded == 1
    assert len(mailbox.ctx.bounce_mailbox) == 0
    wait_for(lambda: _row(runtime, message_id, GONE).state == "failed")


def test_a_report_that_overtakes_the_workers_record_waits_for_it(mailbox: Sandbox, runtime: Runtime) -> None:
    from sqlalchemy import update

    message_id, row = _sent_to(runtime, GONE)
    with runtime.session() as s:  # as it was between the relay's 250 and the worker's record
        s.execute(update(Delivery).where(Delivery.id == row.id).values(state="sending", provider_id=None))
    _file_report(runtime, mailbox, row, GONE)
    assert fetch_bounces(runtime).as_dict() == {"recorded": 0, "ignored": 0, "kept": 1}
    with runtime.session() as s:
        s.execute(update(Delivery).where(Delivery.id == row.id).values(state="sent", provider_id=row.provider_id))
    assert fetch_bounces(runtime).recorded == 1
    wait_for(lambda: _row(runtime, message_id, GONE).state == "failed")


def test_a_session_cut_short_deletes_nothing_and_a_report_read_twice_counts_once(
        mailbox: Sandbox, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    first_id, first = _sent_to(runtime, GONE)
    second_id, second = _sent_to(runtime, "also-gone@mail.example.jp")
    _file_report(runtime, mailbox, first, GONE)
    _file_report(runtime, mailbox, second, "also-gone@mail.example.jp")
    real, calls = module.record_bounce, []

    def fails_on_the_second(rt: Runtime, delivery_id: int, dsn: object) -> None:
        calls.append(delivery_id)
        if len(calls) == 2:
            raise RuntimeError("the worker process was stopped")
        real(rt, delivery_id, dsn)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "record_bounce", fails_on_the_second)
    with pytest.raises(RuntimeError):
        fetch_bounces(runtime)
    assert len(mailbox.ctx.bounce_mailbox) == 2, "no QUIT, so nothing was deleted"
    monkeypatch.setattr(module, "record_bounce", real)
    assert fetch_bounces(runtime).recorded == 2 and len(mailbox.ctx.bounce_mailbox) == 0
    wait_for(lambda: _row(runtime, first_id, GONE).state == "failed"
             and _row(runtime, second_id, "also-gone@mail.example.jp").state == "failed")
    with runtime.session() as s:
        marks = s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "contact.email_bounced"))
    assert marks == 2, "the first report, read twice, marked its address once"


def test_a_refused_login_is_said_and_loses_nothing(mailbox: Sandbox, app: Flask, runtime: Runtime) -> None:
    _, row = _sent_to(runtime, GONE)
    _file_report(runtime, mailbox, row, GONE)
    wrong = replace(runtime.settings, bounce_mailbox_password="wrong")
    runtime.settings = wrong
    with pytest.raises(MailboxError, match="読めません"):
        fetch_bounces(runtime)
    hub = HubContext()
    hub._app = app
    result = CliRunner().invoke(main, ["bounces", "fetch"], obj=hub)
    assert result.exit_code == 1 and "バウンス用メールボックス" in result.output and "invalid" in result.output
    assert len(mailbox.ctx.bounce_mailbox) == 1
    # Counted where monitoring looks: a mailbox nobody can read does not go unnoticed.
    scraped = samples(app.test_client().get("/metrics").get_data(as_text=True))
    assert scraped[("hub_bounce_mailbox_errors_total", ())] == 2


def test_the_mailbox_setting_is_checked_at_start_and_scheduled(settings: Settings) -> None:
    assert celery_config(settings)["beat_schedule"]["bounces-fetch"]["task"] == "hub.bounces.fetch"
    assert "bounces-fetch" not in celery_config(replace(settings, bounce_mailbox_url=""))["beat_schedule"]
    settings.check_startup(["email"])  # pop3:// is fine outside production (the sandbox)
    for broken, words in ((replace(settings, bounce_domain=""), "HUB_BOUNCE_DOMAIN"),
                          (replace(settings, bounce_mailbox_url="imap://mail.example.jp"), "pop3s://"),
                          (replace(settings, bounce_mailbox_url="pop3s://mail.example.jp"), "pop3s://")):
        with pytest.raises(ConfigError, match=words):
            broken.check_startup(["email"])
    production = replace(settings, env="production", secret_key="k" * 48)
    with pytest.raises(ConfigError, match="TLS"):
        production.check_startup(["email"])


def test_pop3s_verifies_the_mail_servers_certificate(settings: Settings, app: Flask, runtime: Runtime,
                                                      tmp_path: Path) -> None:
    seed(app, residents=0, staff=0)
    pki = make_pki(tmp_path)
    with Sandbox(pop3_tls_context=pki.server_context()) as city_mail:
        _, row = _sent_to(runtime, GONE)
        _file_report(runtime, city_mail, row, GONE)
        url = f"pop3s://{SANDBOX_POP3_USER}@127.0.0.1:{city_mail.pop3_port}"
        runtime.settings = replace(settings, bounce_mailbox_url=url)
        with pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED"):
            fetch_bounces(runtime)  # a certificate nobody vouched for: no password is sent
        assert len(city_mail.ctx.bounce_mailbox) == 1
        runtime.settings = replace(settings, bounce_mailbox_url=url, smtp_ca_file=str(pki.ca_file))
        assert fetch_bounces(runtime).recorded == 1  # the city's private CA, as for its SMTP relay
        assert len(city_mail.ctx.bounce_mailbox) == 0
