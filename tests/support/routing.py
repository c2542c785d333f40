"""Flask apps made by the hundred: each test makes its own, and Werkzeug writes and compiles two
small Python functions for each of the hub's ~130 routes every time (about 0.1 s an app here, a
tenth of the suite). The functions depend only on the rule's parts, so one process compiles each once.

Test-only: a production process makes its app once. Rules whose defaults fill a part of the path
(none of the hub's) are compiled as usual, as is everything if Werkzeug's internals change.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Hashable
from typing import Any

from werkzeug.routing import Rule

_Builder = Callable[..., tuple[str, str]]


def share_compiled_url_builders() -> None:
    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "shared", False):
        return
    if list(inspect.signature(compile_builder).parameters) != ["self", "append_unknown"]:
        return
    compiled: dict[Hashable, _Builder] = {}

    @functools.wraps(compile_builder)
    def shared(self: Any, append_unknown: bool = True) -> _Builder:
        defaults = self.defaults or {}
        trace = getattr(self, "_trace", None)
        if trace is None or (defaults and any(dynamic and part in defaults for dynamic, part in trace)):
            return compile_builder(self, append_unknown)
        key = (self.rule, tuple(trace), tuple(defaults), append_unknown)
        builder = compiled.get(key)
        if builder is None:
            builder = compiled[key] = compile_builder(self, append_unknown)
        return builder

    shared.shared = True  # type: ignore[attr-defined]
    Rule._compile_builder = shared  # type: ignore[method-assign]
