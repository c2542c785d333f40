"""Celery tasks of the JMA source. They take feed URLs only; everything else is read from the database."""

from __future__ import annotations

from celery import shared_task

from hub.dispatch.tasks import runtime

from .poller import Poller, feed_urls


@shared_task(name="hub.triggers.jma.poll")
def poll() -> dict[str, object]:
    """Beat entry: one task per feed, so a slow feed does not delay the others."""
    rt = runtime()
    if not rt.settings.jma_enabled:
        return {"skipped": "HUB_JMA_ENABLED is false"}
    urls = feed_urls(rt)
    for url in urls:
        poll_feed.delay(url)
    return {"feeds": len(urls)}


@shared_task(name="hub.triggers.jma.poll_feed")
def poll_feed(url: str) -> dict[str, object]:
    rt = runtime()
    if not rt.settings.jma_enabled:
        return {"skipped": "HUB_JMA_ENABLED is false"}
    report = Poller(rt).poll_feed(url)
    return {
        "feeds": [f.__dict__ for f in report.feeds],
        "decisions": [{"item": d.item_key, "outcome": d.outcome} for d in report.decisions],
    }
