"""The scheduler's round of ``hub bounces fetch`` (when ``HUB_BOUNCE_MAILBOX_URL`` is set)."""

from __future__ import annotations

import logging

from celery import shared_task

from hub.bounces.mailbox import MailboxError, fetch_bounces
from hub.dispatch.tasks import runtime

log = logging.getLogger(__name__)


@shared_task(name="hub.bounces.fetch")
def fetch() -> dict[str, int] | dict[str, str]:
    rt = runtime()
    if not rt.settings.bounce_mailbox_url:
        return {"skipped": "HUB_BOUNCE_MAILBOX_URL is not set"}
    try:
        return fetch_bounces(rt).as_dict()
    except MailboxError as exc:  # the next round tries again; the reports wait in the mailbox
        log.warning("%s", exc)
        return {"error": str(exc)}
