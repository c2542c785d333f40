"""Property-based fuzzing of /api/v1 from its own OpenAPI document (schemathesis + hypothesis).

For every documented operation, generated requests (valid and invalid) must never get a 5xx, and
every response must be one the document promises: a documented status code, the documented
content type, and a body matching the schema. A failure is either a bug in the code or a lie in
the document; both are fixed, never the check.

Bounded for the suite (HUB_FUZZ_EXAMPLES examples per operation and mode, 15 by default,
deterministic); run longer and on fresh cases with e.g.
``HUB_FUZZ_EXAMPLES=1000 HUB_FUZZ_RANDOM=1 .venv/bin/python -m pytest tests/api/test_fuzz.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from hub.api.openapi import SPEC
from hub.config import Settings
from sandbox import Sandbox, hub_settings
from tests.api.support import bearer, seed

EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "15"))
# The suite replays the same cases every run; HUB_FUZZ_RANDOM=1 explores new ones (for long runs).
DERANDOMIZE = not os.environ.get("HUB_FUZZ_RANDOM")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def fuzz_settings(database_url: str, sandbox: Sandbox, tmp_path: Any) -> Settings:
    # database_url runs the fuzzer on SQLite and on PostgreSQL: PostgreSQL refuses text longer than
    # its column at commit, which SQLite stores (a title of 201 characters was a 500 there only).
    return Settings(**hub_settings(sandbox.http_url, sandbox.smtp_port), database_url=database_url,
                    data_dir=str(tmp_path), tasks_eager=False).resolved()


@pytest.fixture
def fuzz_app(fuzz_settings: Settings) -> Iterator[Flask]:
    from hub.app import create_app

    # Not eager: a message the fuzzer manages to create is queued (to a broker nobody reads), not
    # delivered through the sandbox, which would make each example cost a second.
    app = create_app(fuzz_settings)
    seed(app)
    with app.app_context():
        yield app


@pytest.fixture
def auth_headers() -> dict[str, str]:
    """The one place the fuzzer authenticates: adapt here when the token mechanism changes."""
    return bearer("admin")


def _runs() -> list[tuple[str, GenerationMode]]:
    """Every operation, with valid input and with invalid input where it takes any."""
    runs = []
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            label = f"{method.upper()} {path}"
            # Positive cases follow the schemas (so they reach deep into the views); negative ones
            # break them (so every validation path answers 4xx, never 5xx).
            runs.append((label, GenerationMode.POSITIVE))
            if item.get("parameters") or operation.get("parameters") or operation.get("requestBody"):
                runs.append((label, GenerationMode.NEGATIVE))
    return runs


_LITERALS: list[Any] = []


def _literals_of_the_code(schema: Any) -> dict[str, Any]:
    """The literals schemathesis finds in the hub's modules (category codes, states, …), which it
    tries as values. It reads the modules again for each new app (a sixth of the fuzzer's time
    here); the modules are the same for every test's app, so this process reads them once. Where
    schemathesis has them elsewhere (a private module), it is left to read them itself."""
    try:
        from schemathesis.generation.feedback import FeedbackSources
        from schemathesis.python._constants.orchestrator import make_constants_value_source
    except ImportError:
        return {}
    if not _LITERALS:
        _LITERALS.append(make_constants_value_source(schema))
    return {"feedback": FeedbackSources(constants_value_source=_LITERALS[0])}


@pytest.mark.parametrize(("label", "mode"), [pytest.param(label, mode, id=f"{label}-{mode.value}")
                                             for label, mode in _runs()])
def test_api_never_errors_and_answers_as_documented(fuzz_app: Flask, auth_headers: dict[str, str], label: str,
                                                   mode: GenerationMode) -> None:
    # The pytest plugin's lazy loading (schemathesis.pytest.from_fixture) does not run on pytest 9:
    # the operation is looked up and driven by hypothesis directly instead.
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app).find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy(generation_mode=mode, **_literals_of_the_code(operation.schema)))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
              phases=[Phase.explicit, Phase.generate],  # no shrinking: the failing request is shown as found
              suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        response = case.call(headers=auth_headers)
        case.validate_response(response, checks=CHECKS)

    fuzz()
