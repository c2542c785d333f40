"""``hub sandbox ...``: run the provider sandbox and look into it from the command line."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from sandbox.client import SandboxClient, SandboxError
from sandbox.constants import (
    CHANNELS,
    DEFAULT_HTTP_PORT,
    DEFAULT_SMTP_PORT,
    DEFAULT_URL,
    SANDBOX_KARADEN_API_TOKEN,
    SANDBOX_KARADEN_TENANT_ID,
    SANDBOX_LINE_ACCESS_TOKEN,
    SANDBOX_LINE_CHANNEL_SECRET,
    SANDBOX_TWILIO_ACCOUNT_SID,
    SANDBOX_TWILIO_AUTH_TOKEN,
)
from sandbox.faults import ALL_KINDS, KINDS_BY_CHANNEL, parse_fault_spec
from sandbox.handover import hub_env, write_env_file
from sandbox.sandbox import Sandbox

URL_OPTION = click.option(
    "--url",
    envvar="HUB_SANDBOX_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="Base URL of a running sandbox (env HUB_SANDBOX_URL).",
)


@click.group("sandbox")
def sandbox_cli() -> None:
    """プロバイダのサンドボックス（実際には送信しません） / the local provider sandbox."""


@sandbox_cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--http-port", type=int, default=DEFAULT_HTTP_PORT, show_default=True)
@click.option("--smtp-port", type=int, default=DEFAULT_SMTP_PORT, show_default=True)
@click.option("--webhook-url", default=None, help="Where LINE webhook events are POSTed (signed).")
@click.option("--sms-url", default=None,
              help="Where residents' SMS are POSTed (signed), e.g. http://127.0.0.1:8000/callbacks/twilio/sms.")
@click.option(
    "--callback-delay", type=float, default=0.0, show_default=True, help="Seconds before status callbacks."
)
@click.option("--fault", "faults", multiple=True, metavar="CH:KIND[:COUNT]", help="Inject a fault at start.")
@click.option(
    "--env-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write the HUB_* settings pointing a hub here to this file (a hub reads $HUB_DATA_DIR/sandbox.env); "
    "removed on stop.",
)
def run(
    host: str,
    http_port: int,
    smtp_port: int,
    webhook_url: str | None,
    sms_url: str | None,
    callback_delay: float,
    faults: tuple[str, ...],
    env_file: Path | None,
) -> None:
    """Start the sandbox and serve until Ctrl-C."""
    try:
        parsed = [parse_fault_spec(spec) for spec in faults]
        sandbox = Sandbox(
            host=host,
            http_port=http_port,
            smtp_port=smtp_port,
            line_webhook_url=webhook_url,
            sms_webhook_url=sms_url,
            callback_delay=callback_delay,
            faults=parsed,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from exc
    sandbox.start()
    base = sandbox.http_url
    click.echo(
        "サンドボックス起動中（実際には送信されていません） / sandbox running — nothing leaves this machine"
    )
    click.echo(f"  受信箱 inbox page : {base}/sandbox/")
    click.echo(f"  Twilio            : {base}  account {SANDBOX_TWILIO_ACCOUNT_SID}")
    click.echo(f"                      auth token {SANDBOX_TWILIO_AUTH_TOKEN}")
    click.echo(f"  LINE              : {base}  access token {SANDBOX_LINE_ACCESS_TOKEN}")
    click.echo(f"                      channel secret {SANDBOX_LINE_CHANNEL_SECRET}")
    click.echo(f"  X                 : {base}   (any OAuth 1.0a credentials)")
    click.echo(f"  Karaden SMS API   : {base}/api  token {SANDBOX_KARADEN_API_TOKEN}")
    click.echo(f"                      tenant {SANDBOX_KARADEN_TENANT_ID}")
    click.echo(f"  SMTP              : {host}:{sandbox.smtp_port}")
    if env_file is not None:
        write_env_file(env_file, base, sandbox.smtp_port)
        click.echo(f"  hub settings ->   : {env_file}")
    else:
        click.echo("  hub settings      : (or --env-file $HUB_DATA_DIR/sandbox.env)")
        for key, value in hub_env(base, sandbox.smtp_port).items():
            click.echo(f"    {key}={value}")
    if webhook_url:
        click.echo(f"  LINE webhook ->   : {webhook_url}")
    if sms_url:
        click.echo(f"  SMS URL ->        : {sms_url}")
    for channel, kind, count in parsed:
        click.echo(f"  fault             : {channel} {kind} x{count or '∞'}")
    click.echo("Ctrl-C で停止 / Ctrl-C to stop")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        if env_file is not None:
            env_file.unlink(missing_ok=True)
        click.echo("stopped")


def _client(url: str) -> SandboxClient:
    return SandboxClient(url)


def _fail(exc: Exception, url: str) -> click.ClickException:
    if isinstance(exc, SandboxError):
        return click.ClickException(str(exc))
    return click.ClickException(f"cannot reach the sandbox at {url}: {exc} (is `hub sandbox run` running?)")


@sandbox_cli.command("inbox")
@click.option("--channel", type=click.Choice(CHANNELS), default=None)
@click.option("--to", "to", default=None, help="Only copies sent to this address.")
@click.option("--limit", type=int, default=None, help="Only the most recent N copies.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@URL_OPTION
def inbox(channel: str | None, to: str | None, limit: int | None, as_json: bool, url: str) -> None:
    """Show what recipients received."""
    try:
        items = _client(url).inbox(channel=channel, to=to, limit=limit)
    except Exception as exc:
        raise _fail(exc, url) from exc
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("（まだ何も届いていません / nothing received yet）")
    for item in items:
        drill = " [訓練]" if item["text"].startswith("【訓練】") else ""
        click.echo(f"{item['received_at']}  {item['channel']:<5} {item['to']}  <- {item['from']}{drill}")
        if item.get("subject"):
            click.echo(f"    件名: {item['subject']}")
        for line in (item["text"] or "").splitlines() or [""]:
            click.echo(f"    {line}")


@sandbox_cli.command("sms")
@click.argument("sender")
@click.argument("number")
@click.argument("body")
@click.option("--sid", default=None, help="Repeat this MessageSid (a retried webhook).")
@click.option("--sms-url", default=None, help="Set the SMS URL first (the hub's /callbacks/twilio/sms).")
@URL_OPTION
def sms(sender: str, number: str, body: str, sid: str | None, sms_url: str | None, url: str) -> None:
    """A resident at SENDER texts BODY to our NUMBER; prints the reply the hub sent back."""
    try:
        client = _client(url)
        if sms_url:
            client.set_sms_url(sms_url)
        result = client.send_sms(sender, number, body, sid=sid)
    except Exception as exc:
        raise _fail(exc, url) from exc
    click.echo(f"{result['sid']}: HTTP {result['status']}"
               + (f" (Twilio error {result['error_code']})" if result["error_code"] else ""))
    for reply in result["replies"]:
        click.echo(f"  返信 reply -> {reply['to']}: {reply['text']}")
    if not result["replies"]:
        click.echo("  （返信なし / no reply）")


@sandbox_cli.command("fault")
@click.argument("channel", type=click.Choice(list(KINDS_BY_CHANNEL)))
@click.argument("kind", type=click.Choice(sorted(ALL_KINDS)))
@click.option(
    "--count", type=int, default=1, show_default=True, help="How many requests fail (0 = until cleared)."
)
@click.option("--match", default=None, help="Only requests whose recipient contains this text.")
@click.option("--delay", type=float, default=None, help="Seconds for the timeout fault (default 15).")
@URL_OPTION
def fault(channel: str, kind: str, count: int, match: str | None, delay: float | None, url: str) -> None:
    """Make the next COUNT requests of CHANNEL fail with KIND."""
    try:
        _client(url).inject_fault(channel, kind, count=count, match=match, delay=delay)
    except Exception as exc:
        raise _fail(exc, url) from exc
    click.echo(f"fault set: {channel} {kind} x{count or '∞'}" + (f" matching {match!r}" if match else ""))


@sandbox_cli.command("clear")
@URL_OPTION
def clear(url: str) -> None:
    """Empty the inbox, stats, faults and LINE retry keys."""
    try:
        _client(url).clear()
    except Exception as exc:
        raise _fail(exc, url) from exc
    click.echo("cleared")


@sandbox_cli.command("stats")
@URL_OPTION
def stats(url: str) -> None:
    """Request counts per provider endpoint."""
    try:
        counts = _client(url).stats()
    except Exception as exc:
        raise _fail(exc, url) from exc
    for name, value in counts.items():
        click.echo(f"{name:<32} {value}")


def main() -> None:  # pragma: no cover - `python -m sandbox.cli` without the hub CLI
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    sandbox_cli()


if __name__ == "__main__":  # pragma: no cover
    main()
