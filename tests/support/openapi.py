"""The hub's OpenAPI document as openapi-core reads it, made once per process.

openapi-core checks the whole document when it reads it (about 2 s here); tests that check
responses against it share one reading. The document's own validity has its test
(tests/api/test_openapi.py::test_every_route_is_documented_and_nothing_else).
"""

from __future__ import annotations

import functools

from openapi_core import OpenAPI

from hub.api.openapi import SPEC


@functools.cache
def hub_api() -> OpenAPI:
    return OpenAPI.from_dict(SPEC)
