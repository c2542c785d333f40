"""``hub bounces serve``: receive bounce reports for ``HUB_BOUNCE_DOMAIN`` (hub/bounces)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from hub.bounces.receiver import bounce_server
from hub.cli.context import HubContext, pass_hub


@click.group("bounces")
def bounces_cli() -> None:
    """メールの不達通知（バウンス）/ e-mail bounce reports."""


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
