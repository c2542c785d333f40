"""Priority lanes: the Celery queues work is routed to, so alerts never wait behind everyday notices.

``hub worker`` runs a node that consumes only :data:`ALERTS` (capacity nobody else can take) beside
a node that consumes both lanes. Anything not said otherwise goes to :data:`ALERTS`: a task that
is wrongly urgent costs a little capacity, a task that is wrongly everyday can cost lives.
"""

from __future__ import annotations

ALERTS = "hub.alerts"  # alerts, 取消/訂正, call-out steps, alarms, the sweeper's own work
NOTICES = "hub.notices"  # everyday notices (お知らせ, reminders, personalised CSV sends)
LANES = (ALERTS, NOTICES)


def lane_for(msg_type: str) -> str:
    """Only a message its author called an everyday notice waits behind alerts; follow-ups never do."""
    return NOTICES if msg_type == "notice" else ALERTS
