"""Worker-side instrumentation for the pipeline benchmark (imported in worker processes).

`run_handler` runs a groves handler exactly as `tasks.executors.LocalExecutor` does and
also returns the CPU seconds spent inside ``fit_grove`` and ``predict_levels`` (the
physical work a pipeline cannot avoid). Kept free of heavy imports: the pool's spawned
workers import this module before their first invocation.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

_CPU = {"fit_predict_s": 0.0}
_WRAPPED: set[str] = set()
FIT_MODULES = ("lambda_functions.parampreds", "lambda_functions.trainfull")


def _cpu_timed(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            _CPU["fit_predict_s"] += time.process_time() - start

    return wrapper


def _instrument(function: str) -> None:
    module_name = f"lambda_functions.{function}"
    if module_name not in FIT_MODULES or module_name in _WRAPPED:
        return
    import importlib

    module = importlib.import_module(module_name)
    module.fit_grove = _cpu_timed(module.fit_grove)  # type: ignore[attr-defined]
    module.predict_levels = _cpu_timed(module.predict_levels)  # type: ignore[attr-defined]
    _WRAPPED.add(module_name)


def run_handler(function: str, event: dict[str, Any]) -> dict[str, float]:
    """Run one invocation in this worker; return its fit+predict and handler CPU seconds."""
    from tasks.executors import _run_handler

    _instrument(function)
    before = _CPU["fit_predict_s"]
    start = time.process_time()
    _run_handler(function, event)
    return {
        "fit_predict_cpu_s": _CPU["fit_predict_s"] - before,
        "handler_cpu_s": time.process_time() - start,
    }
