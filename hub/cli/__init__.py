"""The ``hub`` command. Subcommands are thin: they call hub.compose / hub.contacts / hub.dispatch."""

from __future__ import annotations

import click

from hub.cli.admin import admin_cli
from hub.cli.audit import audit_cli
from hub.cli.bounces import bounces_cli
from hub.cli.context import pass_hub  # noqa: F401  (re-exported for subcommand modules)
from hub.cli.db import db_cli
from hub.cli.directory import admin_cli as _admin_with_directory  # noqa: F401  (adds its groups)
from hub.cli.followups import approve_cmd, cancel_cmd, correct_cmd, reject_cmd
from hub.cli.health import health_cmd, watchdog_cmd
from hub.cli.messages import export_cli, send_cmd, status_cmd
from hub.cli.people import contacts_cli
from hub.cli.relay import callout_cli, staff_cli
from hub.cli.serve import demo_cmd, seed_cmd, web_cmd, worker_cmd
from hub.cli.tokens import token_cli
from hub.cli.triggers import jma_cli, rules_cli, templates_cli


@click.group()
def main() -> None:
    """防災・行政 一斉配信ハブ / broadcast hub for municipalities."""


main.add_command(db_cli)
main.add_command(send_cmd)
main.add_command(status_cmd)
main.add_command(cancel_cmd)
main.add_command(correct_cmd)
main.add_command(approve_cmd)
main.add_command(reject_cmd)
main.add_command(export_cli)
main.add_command(contacts_cli)
main.add_command(web_cmd)
main.add_command(worker_cmd)
main.add_command(seed_cmd)
main.add_command(demo_cmd)
main.add_command(rules_cli)
main.add_command(jma_cli)
main.add_command(templates_cli)
main.add_command(callout_cli)
main.add_command(staff_cli)
main.add_command(admin_cli)
main.add_command(token_cli)
main.add_command(audit_cli)
main.add_command(bounces_cli)
main.add_command(health_cmd)
main.add_command(watchdog_cmd)

try:
    from sandbox.cli import sandbox_cli

    main.add_command(sandbox_cli)
except ImportError:  # pragma: no cover - an installation without the sandbox (the production image)
    pass
