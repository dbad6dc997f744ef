"""The real cap on in-flight Lambda invocations, read from the account at the start of a run.

``--max-in-flight`` is what the user allows; what Lambda allows may be less: the account's
unreserved concurrency (`GetAccountSettings`: new accounts can have as little as 10, the
default is 1000 shared by every function in the region) and any function's reserved
concurrency (`GetFunctionConcurrency`). The run caps its in-flight invocations at the
smallest of these and logs the figure and where it came from; ``--max-in-flight`` can only
lower it. If the limits cannot be read (a policy without the two read actions, an endpoint
that lacks them), the run says so and keeps ``--max-in-flight``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lambda_functions.errors import GrovesError


@dataclass
class InflightCap:
    """The cap a run uses, what set it, and every figure that was considered."""

    value: int
    source: str
    figures: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        considered = ", ".join(f"{what} {n}" for what, n in self.figures.items())
        text = f"in-flight Lambda invocations capped at {self.value} ({self.source}"
        text += f"; considered: {considered})" if len(self.figures) > 1 else ")"
        return text + "".join(f"; {note}" for note in self.notes)


def discover_cap(
    client: Any, requested: int, function_prefix: str, functions: Iterable[str]
) -> InflightCap:
    """The smallest of ``requested``, the account's unreserved concurrency and the reserved
    concurrency of each function that has one.

    Raises:
        GrovesError: a function's reserved concurrency is 0 (it can never run).
    """
    figures: dict[str, int] = {"--max-in-flight": requested}
    notes: list[str] = []
    try:
        limit = client.get_account_settings()["AccountLimit"]
        figures["account unreserved concurrency"] = int(limit["UnreservedConcurrentExecutions"])
    except Exception as exc:
        notes.append(f"GetAccountSettings failed ({_why(exc)}): account limit not known")
    for function in functions:
        name = function_prefix + function
        try:
            reserved = client.get_function_concurrency(FunctionName=name).get(
                "ReservedConcurrentExecutions"
            )
        except Exception as exc:
            notes.append(f"GetFunctionConcurrency({name}) failed ({_why(exc)})")
            continue
        if reserved is None:
            continue
        if int(reserved) == 0:
            raise GrovesError(
                f"{name} has reserved concurrency 0: Lambda throttles every invocation of it "
                "(raise it or delete the reservation)"
            )
        figures[f"reserved concurrency of {name}"] = int(reserved)
    source, value = min(figures.items(), key=lambda item: item[1])
    return InflightCap(value=value, source=source, figures=figures, notes=notes)


def run_cap(config: Any) -> InflightCap:
    """`discover_cap` for a run (`groves.config.RunConfig`): the functions it invokes."""
    from tasks.executors import lambda_client

    functions = [*config.stages.names, config.stages.report.name]
    client = lambda_client(config.credentials_block)
    return discover_cap(client, config.max_in_flight, config.function_prefix, functions)


def _why(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    return f"{type(exc).__name__}: {code}" if code else f"{type(exc).__name__}: {exc}"
