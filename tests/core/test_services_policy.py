"""Where PostgreSQL or Redis is missing the suite skips those parts — except in CI, where it fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run_schema_test_without_postgres(ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": ci, "HUB_TEST_POSTGRES_URL": "postgresql+psycopg://postgres@127.0.0.1:1/test"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/core/test_schema.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_missing_postgres_is_a_skip_on_a_developer_machine() -> None:
    result = _run_schema_test_without_postgres("")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout


def test_missing_postgres_fails_loudly_in_ci() -> None:
    result = _run_schema_test_without_postgres("true")
    assert result.returncode != 0
    assert "PostgreSQL is not reachable" in result.stdout and "CI=true requires it" in result.stdout
