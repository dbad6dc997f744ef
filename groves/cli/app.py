"""The ``groves`` command line: run the pipeline, make demo data, report, plan, clear, serve."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from groves.cli import manage, results
from groves.cli import run as running
from groves.cli.common import State, follow_terminal

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
data_app = typer.Typer(no_args_is_help=True, help="Demo and test data.")
aws_app = typer.Typer(no_args_is_help=True, help="AWS: Prefect blocks for the cloud deployment.")
app.add_typer(data_app, name="data")
app.add_typer(aws_app, name="aws")


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """groves: distributed random-forest forecasting of many time series, on Prefect."""
    State.debug = debug
    follow_terminal()


app.command()(running.run)
app.command()(running.serve)
app.command()(results.report)
app.command()(results.plan)
app.command()(manage.clear)
app.command("lambda-endpoint")(manage.lambda_endpoint)
data_app.command("generate")(manage.data_generate)
aws_app.command("blocks")(manage.aws_blocks)


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
