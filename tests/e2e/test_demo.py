"""`make demo`'s command on the embedded default serves the hub, and `hub send --wait --json` works against it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from hub.demo.seed import DEMO_TOKEN
from tests.support.live import free_port

pytestmark = pytest.mark.slow


def test_demo_serves_and_send_prints_counts(tmp_path: Path) -> None:
    web, sandbox_http, sandbox_smtp = free_port(), free_port(), free_port()
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path / "var"), "HUB_PUBLIC_URL": f"http://127.0.0.1:{web}",
           "HUB_SANDBOX_URL": f"http://127.0.0.1:{sandbox_http}", "HUB_SANDBOX_SMTP_PORT": str(sandbox_smtp),
           "HUB_SWEEP_INTERVAL_SECONDS": "5", "HUB_TOKEN": DEMO_TOKEN}  # the CLI acts as the demo admin
    for key in ("HUB_DATABASE_URL", "HUB_BROKER_URL", "HUB_REDIS_URL"):
        env.pop(key, None)
    hub = [sys.executable, "-m", "hub.cli"]
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen([*hub, "demo", "--residents", "300"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{web}/healthz", timeout=2).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or still starting up on a loaded machine: ask again
            assert demo.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
            time.sleep(0.5)
        else:
            pytest.fail("the demo did not serve within 3 minutes")
        assert "demo-token" in (tmp_path / "demo.log").read_text()

        # One resident's mail server will refuse the e-mail after the relay took it: the bounce comes
        # back to the demo's own receiver (hub bounces) and fails that row.
        requests.post(f"http://127.0.0.1:{sandbox_http}/sandbox/faults",
                      json={"channel": "email", "kind": "bounce", "count": 1}, timeout=5).raise_for_status()
        out = subprocess.run(
            [*hub, "send", "--title", "地震情報", "--body", "震度5弱を観測しました。", "--channels",
             "sms,email,line,x,rss,voice", "--audience", "all", "--mode", "exercise", "--wait", "--json"],
            env=env, capture_output=True, text=True, timeout=240, check=True)
        result = json.loads(out.stdout)
        assert set(result["channels"]) == {"sms", "email", "line", "x", "rss", "voice"}
        for counts in result["channels"].values():
            assert set(counts) >= {"sent", "delivered", "failed", "skipped", "unknown", "pending"}
            assert counts["pending"] == 0
        assert result["channels"]["sms"]["sent"] + result["channels"]["sms"]["delivered"] > 0
        inbox = requests.get(f"http://127.0.0.1:{sandbox_http}/sandbox/inbox", params={"channel": "sms"},
                             timeout=5).json()
        items = inbox["items"] if isinstance(inbox, dict) else inbox
        assert items and all(i["text"].startswith("【訓練】") for i in items)
        # The demo signs its mail like a configured city; the sandbox checks each signature (dkimpy).
        mails = requests.get(f"http://127.0.0.1:{sandbox_http}/sandbox/inbox", params={"channel": "email"},
                             timeout=5).json()
        mails = mails["items"] if isinstance(mails, dict) else mails
        assert mails and {m["meta"]["dkim"]["result"] for m in mails} == {"pass"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = json.loads(subprocess.run([*hub, "status", str(result["message_id"]), "--json"], env=env,
                                               capture_output=True, text=True, timeout=60, check=True).stdout)
            if status["channels"]["email"]["failed"] >= 1:
                break
            time.sleep(1)
        else:
            pytest.fail(f"the bounce did not fail its e-mail row: {status['channels']['email']}")
        # The terminal keeps the addresses and logins in sight: the workers' line per task goes to
        # the log file the banner names, not between them.
        terminal = (tmp_path / "demo.log").read_text()
        worker_log = tmp_path / "var" / "logs" / "worker.log"
        assert str(worker_log.relative_to(tmp_path)) in terminal or str(worker_log) in terminal
        assert "hub.dispatch" in worker_log.read_text() and "hub.dispatch" not in terminal
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
