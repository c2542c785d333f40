"""``hub web``, ``hub worker``, ``hub seed`` and ``hub demo`` (everything on the embedded default)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from hub.cli.context import HubContext, pass_hub
from hub.config import Settings
from hub.demo.seed import DEMO_TOKEN, seed_demo
from hub.migrate import upgrade


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@pass_hub
def web_cmd(hub: HubContext, host: str, port: int) -> None:
    """開発用Webサーバー（本番は gunicorn "hub.app:create_app()"）/ development web server."""
    from werkzeug.serving import run_simple

    run_simple(host, port, hub.app, threaded=True, use_reloader=False)


def worker_argv(settings: Settings, beat: bool, concurrency: int | None) -> list[str]:
    argv = [sys.executable, "-m", "celery", "-A", "hub.worker:celery", "worker", "-Q", "hub",
            "--loglevel", "INFO"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if beat:
        schedule = Path(settings.data_dir).resolve() / "celerybeat-schedule"
        argv += ["--beat", "--schedule", str(schedule)]
    return argv


@click.command("worker", context_settings={"ignore_unknown_options": True})
@click.option("--beat", is_flag=True, help="このワーカーでスケジューラも動かす（1台だけ）/ also run the scheduler")
@click.option("--concurrency", type=int, default=None)
def worker_cmd(beat: bool, concurrency: int | None) -> None:
    """Celeryワーカー / start a Celery worker (run one per machine; any number of machines)."""
    argv = worker_argv(Settings.from_env(), beat, concurrency)
    os.execv(argv[0], argv)


@click.command("seed")
@click.option("--residents", default=1000, show_default=True)
@click.option("--staff", default=50, show_default=True)
@pass_hub
def seed_cmd(hub: HubContext, residents: int, staff: int) -> None:
    """デモ用の自治体データを作成 / create the demo municipality."""
    upgrade(hub.runtime.settings.database_url)
    with hub.runtime.session() as session:
        report = seed_demo(session, residents=residents, staff=staff)
    click.echo(f"住民 {report.residents} 人, 職員 {report.staff} 人を登録しました" if report.residents
               else "デモデータは登録済みです")


@click.command("demo")
@click.option("--residents", default=1000, show_default=True)
@pass_hub
def demo_cmd(hub: HubContext, residents: int) -> None:
    """デモ一式（DB・サンドボックス・ワーカー・Web）を起動 / run the whole hub on the embedded default."""
    from werkzeug.serving import make_server

    from sandbox import Sandbox

    settings = hub.runtime.settings
    port = urlsplit(settings.public_url).port or 8000
    upgrade(settings.database_url)
    with hub.runtime.session() as session:
        seed_demo(session, residents=residents, staff=50)
    sandbox_port = int(settings.sandbox_url.rsplit(":", 1)[-1].rstrip("/"))
    sandbox = Sandbox(http_port=sandbox_port, smtp_port=settings.sandbox_smtp_port,
                      line_webhook_url=f"{settings.public_url}/callbacks/line/webhook", callback_delay=0.5)
    sandbox.start()
    worker = subprocess.Popen(worker_argv(settings, beat=True, concurrency=2))
    server = make_server("127.0.0.1", port, hub.app, threaded=True)
    click.echo("")
    click.echo("=" * 64)
    click.echo(f" ハブ / hub:            {settings.public_url}/")
    click.echo(f" サンドボックス受信箱:  {sandbox.http_url}/sandbox/")
    click.echo(f" API token (demo):      {DEMO_TOKEN}")
    click.echo(" 例: .venv/bin/hub send --title 訓練 --body 本文 --channels sms,email,line,x,rss,voice "
               "--audience all --mode exercise --wait --json")
    click.echo(" Ctrl-C で停止 / stop with Ctrl-C")
    click.echo("=" * 64, nl=True)
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # Stop everything even if the worker is slow to finish: a demo must never linger.
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        server.server_close()
        sandbox.stop()


def _raise_interrupt(*_: Any) -> None:
    raise KeyboardInterrupt
