"""``SandboxClient``: drive a running sandbox over HTTP (tests, the CLI, benchmarks)."""

from __future__ import annotations

from typing import Any

import requests


class SandboxError(RuntimeError):
    """The sandbox refused a control request; the message is the sandbox's own explanation."""


class SandboxClient:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        # The sandbox is always local: an HTTP(S)_PROXY in the environment must not capture it.
        self.session.trust_env = False

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise SandboxError(f"{method} {path}: {response.status_code} {message}")
        return response.json()

    def inbox(
        self, channel: str | None = None, to: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("channel", channel), ("to", to), ("limit", limit)) if v is not None}
        items: list[dict[str, Any]] = self._call("GET", "/sandbox/inbox", params=params)["items"]
        return items

    def clear(self) -> None:
        """Empty the inbox, stats, faults, LINE retry keys, provider records and pending callbacks."""
        self._call("DELETE", "/sandbox/inbox")

    def inject_fault(
        self, channel: str, kind: str, count: int = 1, match: str | None = None, delay: float | None = None,
        probability: float | None = None,
    ) -> dict[str, Any]:
        """``probability``: each matching request fails with that chance until cleared (a storm)."""
        spec = {"channel": channel, "kind": kind, "count": count, "match": match, "delay": delay,
                "probability": probability}
        fault: dict[str, Any] = self._call("POST", "/sandbox/faults", json=spec)
        return fault

    def faults(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/sandbox/faults")["faults"]
        return found

    def publish_txt(self, name: str, value: str) -> None:
        """Put a TXT record (a DKIM key) in the sandbox's DNS, used to verify signed e-mail."""
        self._call("POST", "/sandbox/dns", json={"name": name, "value": value})

    def set_bounce_target(self, host: str | None, port: int = 25, mailbox: bool = False) -> None:
        """Where the ``bounce`` faults' delivery reports go: the hub's ``hub bounces serve``, or
        (``mailbox``) the sandbox's POP3 bounce mailbox, which ``hub bounces fetch`` reads."""
        self._call("PUT", "/sandbox/smtp/bounce-target", json={"host": host, "port": port, "mailbox": mailbox})

    def clear_faults(self) -> None:
        self._call("DELETE", "/sandbox/faults")

    def stats(self) -> dict[str, int]:
        counts: dict[str, int] = self._call("GET", "/sandbox/stats")
        return counts

    def health(self) -> dict[str, Any]:
        info: dict[str, Any] = self._call("GET", "/sandbox/health")
        return info

    def emit_line_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Sign and POST ``{"destination", "events": [event]}`` to the LINE webhook URL.

        Returns the webhook's answer as ``{"status": int, "body": str}``.
        """
        result: dict[str, Any] = self._call("POST", "/sandbox/line/events", json=event)
        return result

    def set_line_webhook_url(self, url: str | None) -> None:
        self._call("PUT", "/sandbox/line/webhook", json={"url": url})

    def set_karaden_callback_url(self, url: str | None) -> None:
        """Where Karaden posts delivery results (the service setting's callback URL)."""
        self._call("PUT", "/sandbox/karaden/callback", json={"url": url})

    def set_sms_url(self, url: str | None) -> None:
        """Where a resident's SMS to one of our numbers is posted (a Twilio number's SMS URL)."""
        self._call("PUT", "/sandbox/twilio/sms-url", json={"url": url})

    def send_sms(self, from_: str, to: str, body: str, sid: str | None = None) -> dict[str, Any]:
        """A resident texts ``body`` from ``from_`` to our number ``to``; returns the webhook's answer and
        the replies put in the inbox (``{"sid", "status", "body", "replies", "error_code"}``)."""
        spec = {"from": from_, "to": to, "body": body, "sid": sid}
        result: dict[str, Any] = self._call("POST", "/sandbox/sms/inbound", json=spec)
        return result

    def press_digits(self, call_sid: str, digits: str) -> dict[str, Any]:
        """A resident presses keys during a call: the digits go to the call's ``<Gather action>``."""
        result: dict[str, Any] = self._call(
            "POST", f"/sandbox/voice/calls/{call_sid}/digits", json={"digits": digits}
        )
        return result

    def close(self) -> None:
        self.session.close()
