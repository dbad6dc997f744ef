"""A handler that does nothing: the registry behind benchmark (d)'s local endpoint."""

from __future__ import annotations

from typing import Any


def handler(event: Any, context: Any = None) -> None:
    """Accept any event; do no work."""
    return None
