"""`hub demo` when its ports are taken (another demo still running): said plainly, nothing left behind."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from hub.cli import main
from tests.support.live import free_port


def _held_port() -> tuple[socket.socket, int]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder, holder.getsockname()[1]


def _demo(tmp_path: Path, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["demo", "--residents", "5"],
                                env={"HUB_DATA_DIR": str(tmp_path), "HUB_DATABASE_URL": "", "HUB_ENV": "", **env})
    return result.exit_code, result.output


def test_a_taken_sandbox_port_is_said_plainly(tmp_path: Path) -> None:
    holder, port = _held_port()
    with holder:
        code, out = _demo(tmp_path, HUB_SANDBOX_URL=f"http://127.0.0.1:{port}",
                          HUB_SANDBOX_SMTP_PORT=str(free_port()), HUB_PUBLIC_URL=f"http://127.0.0.1:{free_port()}")
    assert code == 1 and "サンドボックスのポート" in out and "is another demo running?" in out
    assert "Traceback" not in out


def test_a_taken_web_port_is_said_plainly_and_the_sandbox_is_stopped(tmp_path: Path) -> None:
    holder, port = _held_port()
    sandbox_port = free_port()
    with holder:
        code, out = _demo(tmp_path, HUB_PUBLIC_URL=f"http://127.0.0.1:{port}",
                          HUB_SANDBOX_URL=f"http://127.0.0.1:{sandbox_port}", HUB_SANDBOX_SMTP_PORT=str(free_port()))
    assert code == 1 and f"ハブのポート {port} は使用中です" in out and "Traceback" not in out
    assert not (tmp_path / "sandbox.env").exists()
    with socket.socket() as again:  # the sandbox it had started let its port go
        again.bind(("127.0.0.1", sandbox_port))
