"""Celery wired to the Flask app: every task runs inside the app context.

Messages carry ids only; the database is the truth. Late acknowledgement plus the sweeper, which
every worker runs on its own timer, means a killed worker's batches are picked up again without a
second copy going out, whether or not the scheduler is alive.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from celery.signals import worker_ready, worker_shutting_down
from flask import Flask

from hub.config import Settings
from hub.contacts.retention import RetentionClock
from hub.dispatch.lanes import ALERTS
from hub.health.heartbeat import Heartbeat


def celery_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_always_eager": settings.tasks_eager,
        "task_eager_propagates": True,
        "broker_connection_retry_on_startup": True,
        # Unrouted work (the relay's steps, the JMA poller, the sweeper's) is urgent by default.
        "task_default_queue": ALERTS,
        "beat_schedule": {
            "relay-tick": {"task": "hub.relay.tick", "schedule": float(settings.relay_tick_seconds)},
        },
        # Workers must know the trigger tasks (and install their pre-send check) wherever beat runs.
        "imports": ("triggers.jma.tasks", "hub.dispatch.sweeper", "hub.bounces.tasks"),
    }
    if settings.bounce_mailbox_url:
        config["beat_schedule"]["bounces-fetch"] = {"task": "hub.bounces.fetch",
                                                    "schedule": float(settings.bounce_fetch_seconds)}
    if settings.jma_enabled:
        config["beat_schedule"]["jma-poll"] = {"task": "hub.triggers.jma.poll",
                                               "schedule": float(settings.jma_poll_seconds)}
    if settings.broker_url.startswith("filesystem://"):
        folder = settings.broker_folder
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        config["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            # Without this kombu writes its broadcast exchange files into the current directory.
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    elif settings.broker_url.startswith(("redis://", "rediss://")):
        # Redelivery of an unacked task after a crash is the sweeper's job, much sooner than this.
        config["broker_transport_options"] = {"visibility_timeout": 3600}
    return config


def init_celery(app: Flask) -> Celery:
    class AppContextTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    settings: Settings = app.config["HUB_SETTINGS"]
    celery = Celery(app.name, task_cls=AppContextTask)
    celery.conf.update(celery_config(settings))
    celery.set_default()
    app.extensions["celery"] = celery
    _run_sweeper_in_workers(app, settings)
    return celery


def _heartbeat(app: Flask, consumer: Any) -> Heartbeat | None:
    """The node's heartbeat, named as Celery names the node, with the queues it consumes."""
    try:
        node = str(consumer.hostname)
        lanes = list(consumer.app.amqp.queues.consume_from or consumer.app.amqp.queues)
        beat = Heartbeat(node, lanes)
        with app.app_context():
            beat.start(app.extensions["hub"])
        return beat
    except Exception:  # never keep a worker from starting; the watcher will report it missing
        logging.getLogger(__name__).exception("worker heartbeat could not start")
        return None


def _run_sweeper_in_workers(app: Flask, settings: Settings) -> None:
    from hub.dispatch.sweeper import SweepTimer
    from hub.relay.tasks import tick as relay_tick

    def relay_safety_net(_rt: object) -> None:
        # Call-outs go on (due steps dispatched, dead workers' steps reconciled) without the scheduler.
        relay_tick()

    from hub.statuses import StatusApplier

    timer = SweepTimer(app, settings.sweep_interval_seconds, also=[relay_safety_net, RetentionClock()])
    # Its own timer, not the sweeper's: statuses should show within a second, sweeps every 10 s.
    applier = StatusApplier(app, settings.status_apply_seconds)

    def start(sender: Any = None, **_: Any) -> None:
        timer.beat = _heartbeat(app, sender)
        timer.start()
        applier.start()

    def stop(**_: Any) -> None:
        timer.stop()
        if isinstance(timer.beat, Heartbeat):
            # The database away: the watcher notices the silence instead.
            with app.app_context(), contextlib.suppress(Exception):
                timer.beat.stop(app.extensions["hub"])
        applier.stop()

    # weak=False: the receivers are closures that nothing else keeps alive. A worker process makes
    # one app; a process that makes more (the tests) keeps only the newest app's receivers, not
    # every app it ever made.
    global _worker_receivers
    if _worker_receivers is not None:
        worker_ready.disconnect(_worker_receivers[0])
        worker_shutting_down.disconnect(_worker_receivers[1])
    worker_ready.connect(start, weak=False)
    worker_shutting_down.connect(stop, weak=False)
    _worker_receivers = (start, stop)


_worker_receivers: tuple[Callable[..., None], Callable[..., None]] | None = None
