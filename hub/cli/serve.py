"""``hub web``, ``hub worker``, ``hub seed`` and ``hub demo`` (everything on the embedded default)."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import click

from hub.cli.context import HubContext, pass_hub
from hub.config import SANDBOX_ENV_FILE, Settings
from hub.demo.seed import DEMO_PASSWORDS, DEMO_TOKEN, give_operators_contacts, seed_demo
from hub.dispatch.lanes import ALERTS, LANES
from hub.health.watchdog import run_forever
from hub.migrate import upgrade
from hub.runtime import Runtime


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@pass_hub
def web_cmd(hub: HubContext, host: str, port: int) -> None:
    """開発用Webサーバー（本番は gunicorn "hub.app:create_app()"）/ development web server."""
    from werkzeug.serving import run_simple

    run_simple(host, port, hub.app, threaded=True, use_reloader=False)


def worker_argv(settings: Settings, beat: bool, concurrency: int | None,
                lanes: tuple[str, ...] = LANES, node: str = "all") -> list[str]:
    argv = [sys.executable, "-m", "celery", "-A", "hub.worker:celery", "worker", "-Q", ",".join(lanes),
            "-n", f"{node}@%h", "--loglevel", "INFO"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if beat:
        schedule = Path(settings.data_dir).resolve() / "celerybeat-schedule"
        argv += ["--beat", "--schedule", str(schedule)]
    return argv


def start_workers(settings: Settings, beat: bool, concurrency: int | None, reserved: int,
                  env: dict[str, str] | None = None, output: IO[bytes] | None = None) -> list[subprocess.Popen[bytes]]:
    """A node for both lanes and, unless ``reserved`` is 0, one for alerts only: capacity that
    no everyday notice can take, however long it is. ``output``: where their logs go (default:
    this process's own stdout and stderr)."""
    argvs = [worker_argv(settings, beat, concurrency)]
    if reserved:
        argvs.append(worker_argv(settings, False, reserved, (ALERTS,), "alerts"))
    return [subprocess.Popen(argv, env=env, stdout=output, stderr=output) for argv in argvs]


def stop_workers(nodes: list[subprocess.Popen[bytes]], patience: float = 15.0) -> None:
    for node in nodes:
        node.terminate()
    for node in nodes:
        try:
            node.wait(timeout=patience)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()


@click.command("worker", context_settings={"ignore_unknown_options": True})
@click.option("--beat", is_flag=True, help="このワーカーでスケジューラも動かす（1台だけ）/ also run the scheduler")
@click.option("--concurrency", type=int, default=None)
@click.option("--reserved", type=int, default=2, show_default=True,
              help="緊急情報専用の枠（0で無し）/ slots only alerts may use (0: none)")
def worker_cmd(beat: bool, concurrency: int | None, reserved: int) -> None:
    """Celeryワーカー / start the Celery workers of this machine (any number of machines)."""
    nodes = start_workers(Settings.from_env(), beat, concurrency, reserved)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        while all(node.poll() is None for node in nodes):
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_workers(nodes)
    sys.exit(max(node.returncode or 0 for node in nodes))


@click.command("seed")
@click.option("--residents", default=1000, show_default=True)
@click.option("--staff", default=50, show_default=True)
@click.pass_context
def seed_cmd(ctx: click.Context, residents: int, staff: int) -> None:
    """デモ用の自治体データを作成 / create the demo municipality."""
    _refuse_in_production(Settings.from_env())  # before the app exists: production may not start it
    hub = ctx.ensure_object(HubContext)
    _refuse_in_production(hub.runtime.settings)
    upgrade(hub.runtime.settings.database_url)
    with hub.app.app_context(), hub.runtime.session() as session:
        report = seed_demo(session, residents=residents, staff=staff)
        give_operators_contacts(session)
    click.echo(f"住民 {report.residents} 人, 職員 {report.staff} 人を登録しました" if report.residents
               else "デモデータは登録済みです")


@click.command("demo")
@click.option("--residents", default=1000, show_default=True)
def demo_cmd(residents: int) -> None:
    """デモ一式（DB・サンドボックス・ワーカー・Web）を起動 / run the whole hub on the embedded default.

    The sandbox starts first; its settings (credentials, base URLs, SMTP) are written to
    ``$HUB_DATA_DIR/sandbox.env``, which every hub command (this web app, the worker, ``hub send``
    in another terminal) reads outside production. The file is removed when the demo stops.
    """
    from aiosmtpd.controller import Controller
    from werkzeug.serving import make_server

    from hub.app import create_app
    from hub.bounces.receiver import bounce_server
    from hub.demo.mail import DEMO_BOUNCE_DOMAIN, demo_dkim
    from sandbox import SANDBOX_KARADEN_CALLBACK_SECRET, Sandbox, hub_env, write_env_file
    from sandbox.smtp import free_port

    base = Settings.from_env(os.environ)  # the environment only: where the sandbox and the hub go
    _refuse_in_production(base)
    sandbox = Sandbox(http_port=urlsplit(base.sandbox_url).port or 0, smtp_port=base.sandbox_smtp_port,
                      line_webhook_url=f"{base.public_url}/callbacks/line/webhook", callback_delay=0.5,
                      sms_webhook_url=f"{base.public_url}/callbacks/twilio/sms",
                      karaden_callback_url=f"{base.public_url}/callbacks/karaden/{SANDBOX_KARADEN_CALLBACK_SECRET}")
    try:
        sandbox.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise click.ClickException(
            f"サンドボックスのポート（{base.sandbox_url}、SMTP {base.sandbox_smtp_port}）は使用中です。"
            "別のデモが動いていませんか。HUB_SANDBOX_URL / HUB_SANDBOX_SMTP_PORT で変えられます "
            "(the sandbox's ports are taken: is another demo running?)") from exc
    env_file = Path(base.data_dir) / SANDBOX_ENV_FILE
    workers: list[subprocess.Popen[bytes]] = []
    server = None
    bounces: Controller | None = None
    watchdog_stop = threading.Event()
    worker_log: IO[bytes] | None = None
    for chatty in ("werkzeug", "mail.log", "alembic"):  # a line per request, connection, migration
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # "No hostname was supplied": the demo's file-system broker has none to supply.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    try:
        signal.signal(signal.SIGTERM, _raise_interrupt)
        # Signed mail and bounces, as a configured city has them: the sandbox verifies each
        # signature, and its "bounce" faults report to the demo's own bounce receiver.
        mail_env = {**demo_dkim(Path(base.data_dir), sandbox), "HUB_BOUNCE_DOMAIN": DEMO_BOUNCE_DOMAIN}
        write_env_file(env_file, sandbox.http_url, sandbox.smtp_port, extra=mail_env)
        app = create_app()  # reads the file just written (real environment variables win)
        rt: Runtime = app.extensions["hub"]
        settings = rt.settings
        port = urlsplit(settings.public_url).port or 8000
        # Before anything else starts: a taken port is said plainly, and nothing is left running.
        if not _port_free(port):
            raise click.ClickException(
                f"ハブのポート {port} は使用中です。別のデモやサーバーが動いていませんか。"
                "HUB_PUBLIC_URL で変えられます "
                f"(port {port} is taken: is another demo running?)")
        server = make_server("127.0.0.1", port, app, threaded=True)
        upgrade(settings.database_url)
        with app.app_context(), rt.session() as session:
            seed_demo(session, residents=residents, staff=50)
            give_operators_contacts(session)
        bounces = bounce_server(rt, "127.0.0.1", free_port("127.0.0.1"))
        bounces.start()
        sandbox.set_bounce_target("127.0.0.1", bounces.port)
        worker_env = {**hub_env(sandbox.http_url, sandbox.smtp_port), **mail_env, **os.environ}
        # The workers' logs (a line per task, every few seconds) go to a file: the terminal keeps
        # the addresses and logins below in sight, and shows only warnings and errors.
        worker_log_path = Path(base.data_dir) / "logs" / "worker.log"
        worker_log_path.parent.mkdir(parents=True, exist_ok=True)
        worker_log = worker_log_path.open("ab")
        workers = start_workers(settings, beat=True, concurrency=2, reserved=1, env=worker_env, output=worker_log)
        # The demo's own `hub watchdog`: a killed demo worker alarms the 防災 staff in the sandbox inbox.
        threading.Thread(target=run_forever, args=(app, watchdog_stop), name="hub-watchdog", daemon=True).start()
        click.echo("")
        click.echo("=" * 64)
        click.echo(f" ハブ / hub:            {settings.public_url}/")
        click.echo(f" サンドボックス受信箱:  {sandbox.http_url}/sandbox/")
        click.echo(f" メール / e-mail:       DKIM d={mail_env['HUB_SMTP_DKIM_DOMAIN']}, "
                   f"bounces → 127.0.0.1:{bounces.port} ({DEMO_BOUNCE_DOMAIN})")
        click.echo(f" API token (demo):      {DEMO_TOKEN}  (admin)")
        for username, password in DEMO_PASSWORDS.items():
            click.echo(f" ログイン / login:      {username} / {password}")
        click.echo(f" サンドボックス設定:    {env_file} (hub commands read it while the demo runs)")
        click.echo(f" ワーカーのログ / log:  {worker_log_path}")
        click.echo(f" 例: HUB_TOKEN={DEMO_TOKEN} .venv/bin/hub send --title 訓練 --body 本文 "
                   "--channels sms,email,line,x,rss,voice --audience all --mode exercise --wait --json")
        click.echo(" Ctrl-C で停止 / stop with Ctrl-C")
        click.echo("=" * 64, nl=True)
        sys.stdout.flush()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # Stop everything even if the worker is slow to finish: a demo must never linger. A second
        # SIGTERM (e.g. `timeout` forwarding one to a group that already got it) must not cut this short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        watchdog_stop.set()
        env_file.unlink(missing_ok=True)
        stop_workers(workers)
        if worker_log is not None:
            worker_log.close()
        if server is not None:
            server.server_close()
        if bounces is not None:
            bounces.stop()
        sandbox.stop()


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _refuse_in_production(settings: Settings) -> None:
    # The demo's accounts have published passwords and a published token: never in a real city.
    if settings.is_production:
        raise click.ClickException(
            "本番環境(HUB_ENV=production)ではデモデータを作成できません。"
            "最初の管理者は hub admin bootstrap で作成してください "
            "(demo data is refused in production; use `hub admin bootstrap`).")


def _raise_interrupt(*_: Any) -> None:
    raise KeyboardInterrupt
