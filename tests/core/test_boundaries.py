"""The provider boundary: only ``channels/`` talks to providers, and nothing in production code knows the sandbox."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_SDKS = {"twilio", "linebot", "tweepy", "smtplib"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def offenders(package: str, forbidden: set[str]) -> list[str]:
    return sorted(
        f"{path.relative_to(ROOT)}: {', '.join(sorted(imported_packages(path) & forbidden))}"
        for path in (ROOT / package).rglob("*.py")
        if imported_packages(path) & forbidden
    )


def test_no_provider_sdk_is_imported_under_hub() -> None:
    assert offenders("hub", PROVIDER_SDKS) == []


@pytest.mark.parametrize("package", ["channels", "triggers"])
def test_production_adapters_never_import_the_sandbox(package: str) -> None:
    assert offenders(package, {"sandbox"}) == []


def test_the_sandbox_imports_nothing_from_the_hub() -> None:
    assert offenders("sandbox", {"hub", "channels", "triggers"}) == []
