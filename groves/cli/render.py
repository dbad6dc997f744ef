"""Rendering results for the terminal: scores, timing tables, reports and plans."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from groves.cli.common import console, err


def print_summary(summary: dict[str, Any]) -> None:
    """Per-stock test MSE vs persistence, and the timing totals."""
    from groves.reporting.summary import forecast_label, stock_table_rows, timing_rows

    rows = stock_table_rows(summary)
    label = forecast_label(summary)
    title = f"run {summary['run_id']}: test MSE vs persistence" + (f" ({label})" if label else "")
    table = Table(title=title)
    for column in rows[0] if rows else ["stock"]:
        table.add_column(column)
    for row in rows:
        table.add_row(*[str(v) for v in row.values()])
    console.print(table)
    timing = Table(title="timing (s): actual (measured) and sequential (one worker)")
    for column in (
        "stage",
        "actual: invocation",
        "computation",
        "I/O",
        "sequential: computation",
        "I/O ",
    ):
        timing.add_column(column, justify="right")
    actual = {r["stage"]: r for r in timing_rows(summary, "actual")}
    sequential = {r["stage"]: r for r in timing_rows(summary, "sequential")}
    for stage, a in actual.items():
        s = sequential[stage]
        timing.add_row(
            stage,
            *(
                f"{v:.2f}"
                for v in (a["Invocation"], a["Computation"], a["I/O"], s["Computation"], s["I/O"])
            ),
        )
    console.print(timing)
    print_report(summary["timing"].get("report"))
    executed = sum(summary["executed"].values())
    reused = sum(summary["reused"].values())
    console.print(
        f"wall time {summary['timing']['wall_s']:.1f} s · invocations executed {executed}, "
        f"reused {reused} · outputs in {summary['store']}/runs/{summary['run_id']}/"
    )


def rows_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for i, column in enumerate(rows[0] if rows else ()):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row.values()])
    return table


def print_report(report: dict[str, Any] | None, kind: str = "measured") -> None:
    """The per-stage statistics and cost tables of a timing report (`groves.reporting.analysis`)."""
    if not report:
        return
    if "error" in report:
        err.print(f"[yellow]timing report unavailable: {report['error']}[/]")
        return
    from groves.reporting.report import cost_rows, stage_rows

    console.print(rows_table(f"per stage ({kind})", stage_rows(report)))
    cost = report["cost"]
    console.print(rows_table(f"cost estimate ({cost['prices']['as_of']})", cost_rows(report)))
    if cost.get("lambda_over_vm"):
        console.print(f"Lambda / one {cost['vm']['name']}: {cost['lambda_over_vm']:.2f}x")
    files = report.get("files") or {}
    if files:
        console.print("plots: " + ", ".join(files[k] for k in ("distributions", "timeline")))


def print_plan(result: dict[str, Any]) -> None:
    """A projection's per-stage table, its cost and projected vs measured makespan."""
    target = result["target"]
    console.print(
        f"target: {target['stocks']} stock(s) x ({target['cells']} cells x "
        f"{target['groves']} groves of {target['trees']} trees, {target['final_groves']} "
        f"final groves of {target['final_trees']} trees), concurrency "
        f"{target['concurrency']}, memory {target['memory_mb'] or 'as measured'} MB; "
        f"{result['receipts']} invocations, times: {result['assign']}"
    )
    print_report(result, "projected")
    line = f"projected makespan {result['projected_makespan_s']:.2f} s"
    measured = result.get("measured_makespan_s")
    if measured:
        line += f" · measured run: {measured:.2f} s at its own scale"
    console.print(line)
