"""Rendering results for the terminal: scores, timing tables, reports and plans.

Every table fits 80 columns without cutting a number: by default each shows the columns
that matter most (``--wide`` shows all), numbers never wrap or shorten (a number column is
as wide as its longest value), and only words (headings, names) may wrap. Money is in
dollars with a precision that fits the amount (`groves.reporting.formatting`); ``--json``
prints the same numbers unrounded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from groves.cli.common import console, err
from groves.reporting.formatting import fixed, integer, text, usd


@dataclass(frozen=True)
class Column:
    """A table column: its heading, the row field it shows, how, and when."""

    heading: str
    field: str
    render: Callable[[Any], str] = text
    wide_only: bool = False


STAGE_COLUMNS = (
    Column("stage", "stage"),
    Column("invocations", "invocations", integer),
    Column("makespan s", "makespan s", fixed(2)),
    Column("busy s", "busy s", fixed(2)),
    Column("peak conc.", "peak conc.", integer),
    Column("eff. (workers)", "eff. (workers)", fixed(2)),
    Column("eff. (peak)", "eff. (peak)", fixed(2), wide_only=True),
    Column("invokes/s", "invokes/s", fixed(1), wide_only=True),
    Column("cold starts", "cold starts", integer, wide_only=True),
    Column("straggler", "straggler", fixed(2), wide_only=True),
)
COST_COLUMNS = (
    Column("item", "item"),
    Column("invocations", "invocations", integer),
    Column("billed s", "billed s", fixed(2)),
    Column("GB-s", "GB-s", fixed(2)),
    Column("compute", "compute $", usd, wide_only=True),
    Column("requests", "requests $", usd, wide_only=True),
    Column("S3 PUT", "S3 PUT", integer, wide_only=True),
    Column("S3 GET", "S3 GET", integer, wide_only=True),
    Column("S3", "S3 $", usd, wide_only=True),
    Column("total", "total $", usd),
)
TIMING_COLUMNS = (
    Column("stage", "stage"),
    Column("invocation", "actual Invocation", fixed(2)),
    Column("computation", "actual Computation", fixed(2)),
    Column("I/O", "actual I/O", fixed(2)),
    Column("seq. computation", "sequential Computation", fixed(2)),
    Column("seq. I/O", "sequential I/O", fixed(2)),
)


def fitted_table(
    title: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column] | None = None,
    wide: bool = False,
) -> Table:
    """A table whose number cells are never cut: the first column (names) may wrap at
    spaces; every other column is as wide as its longest value and does not wrap.

    Args:
        rows: Row dicts; with ``columns`` None, every key of the first row, as text.
        columns: What to show; ``wide_only`` ones only when ``wide``.
    """
    if columns is None:
        columns = [Column(key, key) for key in (rows[0] if rows else ())]
    shown = [c for c in columns if wide or not c.wide_only]
    cells = [[c.render(row.get(c.field)) for c in shown] for row in rows]
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(shown):
        longest = max((len(line[i]) for line in cells), default=0)
        if i == 0:
            table.add_column(column.heading, overflow="fold")
        else:
            table.add_column(
                column.heading, justify="right", no_wrap=True, min_width=max(longest, 1)
            )
    for line in cells:
        table.add_row(*line)
    return table


def summary_tables(summary: Mapping[str, Any], wide: bool = False) -> list[Table]:
    """The scores and timing tables of a run summary."""
    from groves.reporting.summary import forecast_label, scores_rows, timing_rows

    rows = scores_rows(summary["stocks"], wide=wide)
    label = forecast_label(summary)
    title = f"run {summary['run_id']}: test MSE vs persistence" + (f" ({label})" if label else "")
    tables = [fitted_table(title, rows)]
    actual = {r["stage"]: r for r in timing_rows(summary, "actual")}
    sequential = {r["stage"]: r for r in timing_rows(summary, "sequential")}
    timing = [
        {
            "stage": stage,
            **{f"actual {k}": v for k, v in row.items() if k != "stage"},
            **{f"sequential {k}": v for k, v in sequential.get(stage, {}).items() if k != "stage"},
        }
        for stage, row in actual.items()
    ]
    if timing:
        title = "timing (s): actual (measured) and seq. (one worker doing it all)"
        tables.append(fitted_table(title, timing, TIMING_COLUMNS))
    return tables


def report_tables(
    report: Mapping[str, Any], kind: str = "measured", wide: bool = False
) -> list[Table]:
    """The per-stage statistics and cost tables of a timing report (or a plan)."""
    from groves.reporting.report import cost_rows, stage_rows

    as_of = report["cost"]["prices"]["as_of"]
    return [
        fitted_table(f"per stage ({kind})", stage_rows(report), STAGE_COLUMNS, wide),
        fitted_table(f"cost estimate ({as_of})", cost_rows(report), COST_COLUMNS, wide),
    ]


def print_tables(tables: Sequence[Table], out: Console | None = None) -> None:
    for table in tables:
        (out or console).print(table)


def print_summary(summary: Mapping[str, Any], wide: bool = False) -> None:
    """Per-stock test MSE vs persistence, the timing tables, the report, where things are."""
    from groves.reporting.summary import run_folder

    print_tables(summary_tables(summary, wide))
    for stock, message in summary.get("failed", {}).items():
        err.print(f"[red]failed:[/] {stock}: {message}")
    print_report(summary["timing"].get("report"), wide=wide)
    metrics = (summary.get("summaries") or {}).get("metrics")
    if metrics:  # the per-stock pipeline's run metrics (ms)
        parts = [
            f"{stage}: sum {m['posts3_sum_ms'] / 1000:.1f} s, max {m['posts3_max_ms'] / 1000:.1f} s"
            f" (S3 writes {m['s3_sum_ms'] / 1000:.2f} s)"
            for stage, m in metrics.items()
            if isinstance(m, dict) and "posts3_sum_ms" in m
        ]
        console.print(
            f"metrics: {'; '.join(parts)}; average test MSE {metrics['average_mse']:.6g}"
            + (f" (ratio {metrics['average_ratio']:.4f})" if "average_ratio" in metrics else "")
        )
    if cap := summary.get("inflight_cap"):
        console.print(f"Lambda: {cap}", soft_wrap=True)
    executed = sum(summary["executed"].values())
    reused = sum(summary["reused"].values())
    folder, _ = run_folder(summary)
    plots = [p for p in summary.get("plots") or [] if p.get("png")]
    console.print(
        f"wall time {summary['timing']['wall_s']:.1f} s · invocations executed {executed}, "
        f"reused {reused}"
    )
    console.print(f"outputs: {folder}", soft_wrap=True)
    if plots:
        console.print(
            f"plots: {len(plots)} PNG files in plots/ and timingmetrics/ (`groves report "
            f"{summary['run_id']} --html` puts them in one page)"
        )


def print_report(
    report: Mapping[str, Any] | None, kind: str = "measured", wide: bool = False
) -> None:
    """The per-stage statistics and cost tables of a timing report."""
    if not report:
        return
    if "error" in report:
        err.print(f"[yellow]timing report unavailable: {report['error']}[/]")
        return
    print_tables(report_tables(report, kind, wide))
    cost = report["cost"]
    if cost.get("lambda_over_vm"):
        console.print(f"Lambda / one {cost['vm']['name']}: {cost['lambda_over_vm']:.2f}x")


def print_plan(result: Mapping[str, Any], wide: bool = False) -> None:
    """A projection's per-stage table, its cost and projected vs measured makespan."""
    target = result["target"]
    console.print(
        f"target: {target['stocks']} stock(s) x ({target['cells']} cells x "
        f"{target['groves']} groves of {target['trees']} trees, {target['final_groves']} "
        f"final groves of {target['final_trees']} trees), concurrency "
        f"{target['concurrency']}, memory {target['memory_mb'] or 'as measured'} MB; "
        f"{result['receipts']} invocations, times: {result['assign']}"
    )
    print_report(result, "projected", wide)
    line = f"projected makespan {result['projected_makespan_s']:.2f} s"
    measured = result.get("measured_makespan_s")
    if measured:
        line += f" · measured run: {measured:.2f} s at its own scale"
    console.print(line)
    limits = result.get("limits")
    if limits:  # the per-stock pipeline: does one stock's modeling fit one invocation?
        console.print(
            f"per-stock modeling invocation: {limits['rows']:,} rows, ~{limits['seconds']:,.0f} s "
            f"and ~{limits['peak_mb']:,.0f} MB at {limits['memory_mb']} MB (Lambda: "
            f"{limits['timeout_s']:.0f} s, {limits['max_memory_mb']:,} MB): {limits['advice']}"
        )
        for problem in limits["problems"]:
            console.print(f"  - {problem}")
