"""Extra handlers the reliability tests register on the local Lambda endpoint.

They run in the endpoint's worker processes (which inherit the test's ``sys.path``).
"""

from __future__ import annotations

import importlib
import os
import time
from typing import Any

from lambda_functions.stages import FUNCTIONS


def warm(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Import every worker module (a Lambda cold start), then hold the worker a moment so
    that concurrent warm-up calls land on distinct worker processes."""
    for name in FUNCTIONS:
        importlib.import_module(f"lambda_functions.{name}")
    time.sleep(float(event.get("hold", 0.5)))
    return {"pid": os.getpid()}
