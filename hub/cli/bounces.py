"""``hub bounces serve`` / ``fetch``: bounce reports for ``HUB_BOUNCE_DOMAIN`` (hub/bounces), received
over SMTP or read from the city's bounce mailbox."""

from __future__ import annotations

import json
import signal
import threading
from types import FrameType

import click

from hub.bounces.mailbox import MailboxError, fetch_bounces
from hub.bounces.receiver import bounce_server
from hub.cli.context import HubContext, pass_hub


@click.group("bounces")
def bounces_cli() -> None:
    """メールの不達通知（バウンス）/ e-mail bounce reports."""


@bounces_cli.command("fetch")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def fetch_cmd(hub: HubContext, as_json: bool) -> None:
    """バウンス用メールボックスを今すぐ読む / read the bounce mailbox now (HUB_BOUNCE_MAILBOX_URL).

    The scheduler does this every HUB_BOUNCE_FETCH_SECONDS; reports not recorded now stay in the
    mailbox for the next time. Exit 1 when the mailbox cannot be read.
    """
    settings = hub.runtime.settings
    if not settings.bounce_mailbox_url:
        raise click.ClickException("HUB_BOUNCE_MAILBOX_URL が設定されていません（例: pop3s://bounces@mail.city.example.jp）")
    try:
        report = fetch_bounces(hub.runtime)
    except MailboxError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        click.echo(f"記録 {report.recorded} 件、対象外 {report.ignored} 件、次回に持ち越し {report.kept} 件"
                   f" / recorded {report.recorded}, ignored {report.ignored}, kept {report.kept}")


@bounces_cli.command("serve")
@click.option("--host", default="0.0.0.0", show_default=True, help="Listen on this address.")
@click.option("--port", type=int, default=25, show_default=True,
              help="The bounce domain's MX port (25), or a port a forwarding relay delivers to.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM certificate (chain) for STARTTLS, e.g. the bounce domain's Let's Encrypt certificate.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Its private key, if not in the certificate file.")
@pass_hub
def serve_cmd(hub: HubContext, host: str, port: int, tls_cert: str | None, tls_key: str | None) -> None:
    """バウンスを受け取るSMTPサーバー / the SMTP server the bounce domain's MX points at.

    Accepts mail only for return paths this hub signed, records each delivery report and answers
    451 (try again later) when the database is away. Runs until stopped; any number may run.
    """
    settings = hub.runtime.settings
    if not settings.bounce_domain:
        raise click.ClickException("HUB_BOUNCE_DOMAIN が設定されていません（例: bounce.city.example.jp）")
    try:
        server = bounce_server(hub.runtime, host, port, tls_cert, tls_key)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise click.ClickException(f"TLS証明書を読めません: {exc}") from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    click.echo(f"バウンス受信: {host}:{server.port} ({settings.bounce_domain})", err=True)
    try:
        stop.wait()
    finally:
        server.stop()
