"""What every command shares: consoles, option types, value parsers and error handling."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from groves.prefect_settings import apply_server_defaults

T = TypeVar("T")

console = Console()
err = Console(stderr=True)


def follow_terminal() -> None:
    """Size the consoles from the terminal and ``$COLUMNS`` as they are now: rich reads
    ``$COLUMNS`` once, when a console is made (here: at import)."""
    for each in (console, err):
        each.size = (None, None)  # type: ignore[assignment]  # None: measure on each use


class State:
    """Global options (set by the app's callback)."""

    debug = False


DEMO_STOCKS = 3
DEMO_DAYS = 15  # the full grid and grove counts fit ~3 min on 2 cores at this size

# Options that `run` and `serve` share.
WorkersOption = Annotated[int | None, typer.Option(help="Local worker processes (default: cores).")]
FunctionPrefixOption = Annotated[str, typer.Option(help="Lambda function name prefix.")]
CredentialsBlockOption = Annotated[
    str | None, typer.Option(help="prefect-aws AwsCredentials block for the Lambda client.")
]
DaskAddressOption = Annotated[
    str | None,
    typer.Option(
        help="Dask scheduler for --executor dask, e.g. tcp://HOST:8786.",
        envvar="DASK_SCHEDULER_ADDRESS",
    ),
]


def quiet_prefect() -> None:
    """Prefect logs warnings only, sends no analytics, batches its server's writes
    (`groves.prefect_settings`), and gives its first start time."""
    apply_server_defaults()  # batched task-run writes: the server keeps up with the run
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # The first start of the embedded server migrates its database: give it time.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def csv_list(value: str | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None or empty -> None."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def int_list(value: str | None) -> tuple[int, ...] | None:
    """Comma-separated integers."""
    items = csv_list(value)
    if items is None:
        return None
    try:
        return tuple(int(v) for v in items)
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {value!r}") from None


def pairs(value: str | None, what: str, convert: Callable[[str], T]) -> dict[str, T]:
    """Parse ``NAME=VALUE[,NAME=VALUE...]``; ``what`` names the VALUE in the error."""
    out: dict[str, T] = {}
    for item in csv_list(value) or []:
        name, sep, raw = (part.strip() for part in item.partition("="))
        try:
            if not (sep and name):
                raise ValueError
            out[name] = convert(raw)
        except ValueError:
            raise ValueError(
                f"expected NAME={what}, e.g. parampreds={convert('2')}; got {item!r}"
            ) from None
    return out


def guard(fn: Any) -> Any:
    """Run ``fn``; turn expected errors into one clear line and exit code 1."""
    from pydantic import ValidationError

    from lambda_functions.errors import GrovesError

    try:
        return fn()
    except (GrovesError, ValidationError, ValueError, OSError) as exc:
        if State.debug:
            raise
        message = str(exc).strip().splitlines()
        if isinstance(exc, ValidationError):
            message = [
                f"invalid option{' ' + str(e['loc'][-1]) if e['loc'] else 's'}: "
                f"{e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            ]
        err.print(f"[red]error:[/] {'; '.join(message[:3])}")
        raise typer.Exit(code=1) from None
