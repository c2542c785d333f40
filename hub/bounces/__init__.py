"""E-mail bounces: a remote server's "not delivered" report (RFC 3464 DSN), sent back long after
our relay said 250, turned into the delivery's real outcome.

Every e-mail of a message leaves with its own return path, ``bounce-<delivery>-<signature>@``
``HUB_BOUNCE_DOMAIN`` (VERP), so a report names its delivery row without our having to trust or
parse the reporter's copy of the message; the signature (HMAC with the hub's secret) keeps anyone
on the internet from failing rows by guessing ids. ``hub bounces serve`` is the small SMTP server
the bounce domain's MX points at (:mod:`hub.bounces.receiver`).
"""
