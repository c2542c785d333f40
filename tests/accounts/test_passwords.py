"""The production password hasher: argon2id with the parameters RFC 9106 recommends where memory is
limited (argon2-cffi's defaults). The rest of the suite signs in with the cheapest parameters
(tests/conftest.py); these tests are the ones about the real cost."""

from __future__ import annotations

import argon2
import pytest

from hub.accounts import passwords
from tests.conftest import PRODUCTION_HASHER


@pytest.fixture
def production_hasher(monkeypatch: pytest.MonkeyPatch) -> argon2.PasswordHasher:
    monkeypatch.setattr(passwords, "HASHER", PRODUCTION_HASHER)
    return PRODUCTION_HASHER


def test_a_stored_password_is_argon2id_at_the_rfc_9106_cost(production_hasher: argon2.PasswordHasher) -> None:
    stored = passwords.hash_password("correct horse battery")
    made = argon2.extract_parameters(stored)
    wanted = argon2.profiles.RFC_9106_LOW_MEMORY
    assert made.type is argon2.Type.ID
    assert (made.time_cost, made.memory_cost, made.parallelism) == \
        (wanted.time_cost, wanted.memory_cost, wanted.parallelism), "64 MiB, 3 passes, 4 lanes"
    assert passwords.verify(stored, "correct horse battery") == (True, None), "current: not hashed again"
    assert passwords.verify(stored, "correct horse batterY") == (False, None)


def test_a_cheaper_hash_is_replaced_with_one_at_the_production_cost(
        production_hasher: argon2.PasswordHasher) -> None:
    cheap = argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST).hash("correct horse battery")
    ok, fresh = passwords.verify(cheap, "correct horse battery")
    assert ok and fresh is not None
    assert argon2.extract_parameters(fresh).memory_cost == argon2.profiles.RFC_9106_LOW_MEMORY.memory_cost
