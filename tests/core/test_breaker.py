"""The gateway circuit breaker, shared through Redis and in-process, and who the failover partner is."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest

from channels import registry
from channels.sms_gateways import HasGateways
from hub.config import Settings
from hub.dispatch.gateways import primary_and_partner
from hub.models import Department
from hub.runtime import Runtime
from hub.runtime.breaker import BreakerPolicy, CircuitBreaker, LocalBreaker, RedisBreaker
from sandbox import hub_settings
from tests.support.services import REDIS_URL, redis_reachable, require

POLICY = BreakerPolicy(failures=3, cooldown=0.5)


def _local() -> CircuitBreaker:
    return LocalBreaker(POLICY)


def _redis() -> CircuitBreaker:
    require("Redis", redis_reachable())
    return RedisBreaker(REDIS_URL, POLICY, prefix=f"test:breaker:{uuid.uuid4().hex}:")


@pytest.mark.parametrize("make", [_local, _redis], ids=["local", "redis"])
def test_opens_after_failures_in_a_row_then_one_probe_decides(make: Callable[[], CircuitBreaker]) -> None:
    breaker = make()
    for _ in range(2):
        breaker.record("twilio", False)
    breaker.record("twilio", True)  # an answer resets the count: failures must be in a row
    for _ in range(2):
        breaker.record("twilio", False)
    assert breaker.allows("twilio")
    breaker.record("twilio", False)
    assert breaker.is_open("twilio") and not breaker.allows("twilio")
    assert breaker.allows("karaden"), "each gateway has its own circuit"

    time.sleep(0.6)
    assert breaker.allows("twilio"), "after the cool-down one batch probes"
    assert not breaker.allows("twilio"), "…and only one, whichever worker asks next"
    breaker.record("twilio", False)  # the probe failed: open again
    assert not breaker.allows("twilio")
    time.sleep(0.6)
    assert breaker.allows("twilio")
    breaker.record("twilio", True)  # the probe got an answer: closed
    assert breaker.allows("twilio") and breaker.allows("twilio") and not breaker.is_open("twilio")


def test_workers_share_one_circuit_through_redis() -> None:
    require("Redis", redis_reachable())
    prefix = f"test:breaker:{uuid.uuid4().hex}:"
    one, two = RedisBreaker(REDIS_URL, POLICY, prefix), RedisBreaker(REDIS_URL, POLICY, prefix)
    for _ in range(3):
        one.record("karaden", False)
    assert not two.allows("karaden"), "another worker sees the open circuit"


def _sms(settings: Settings) -> HasGateways:
    channel = registry.build("sms", settings)
    assert isinstance(channel, HasGateways)
    return channel


@pytest.mark.parametrize(("hub_default", "dept_gateway", "dept_failover", "expected"), [
    ("none", None, None, ("twilio", None)),  # failover is a city's decision: off unless set
    ("auto", None, None, ("twilio", "karaden")),
    ("auto", "karaden", None, ("karaden", "twilio")),
    ("auto", None, "none", ("twilio", None)),  # a department may refuse it
    ("none", "karaden", "twilio", ("karaden", "twilio")),  # or ask for it
])
def test_the_failover_partner_comes_from_the_department_then_the_hub(
    hub_default: str, dept_gateway: str | None, dept_failover: str | None, expected: tuple[str, str | None]
) -> None:
    settings = Settings(**hub_settings("http://127.0.0.1:9", 9), sms_failover_gateway=hub_default,
                        database_url="sqlite://")
    dept = Department(code="d", name="課", sms_gateway=dept_gateway, sms_failover_gateway=dept_failover)
    rt = Runtime(settings)
    assert primary_and_partner(rt, _sms(settings), dept) == expected


def test_auto_never_fails_over_to_an_unconfigured_gateway() -> None:
    settings = replace(Settings(**hub_settings("http://127.0.0.1:9", 9), database_url="sqlite://"), sms_failover_gateway="auto",
                       karaden_api_token="", karaden_tenant_id="")
    assert primary_and_partner(Runtime(settings), _sms(settings), None) == ("twilio", None)
