"""Looking at finished runs: ``groves report`` and ``groves plan``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from groves.cli.common import console, guard, pairs
from groves.cli.render import print_plan, print_summary
from lambda_functions.events import Grid

WideOption = Annotated[
    bool, typer.Option("--wide", help="Every column (the default fits 80 columns).")
]


def report(
    run_id: Annotated[str | None, typer.Argument(help="Run id (default: the latest run).")] = None,
    data: Annotated[
        str, typer.Option(help="Store folder or s3:// URL.", envvar="GROVES_STORE")
    ] = "groves-data",
    wide: WideOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    as_html: Annotated[
        bool,
        typer.Option("--html", help="Write the run as one self-contained HTML file (plots in it)."),
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="With --html: the file (default: groves-<run>.html).")
    ] = None,
) -> None:
    """Print a finished run's scores and timing tables (from its stored outputs)."""

    def go() -> dict[str, Any]:
        from groves.reporting.stored import load_summary

        return load_summary(data, run_id)

    summary = guard(go)
    if as_html:
        path = guard(lambda: write_html(data, summary, out))
        console.print(f"wrote {path}", soft_wrap=True)
    elif as_json:
        console.print_json(json.dumps(summary, default=str))
    else:
        print_summary(summary, wide=wide)


def write_html(data: str, summary: dict[str, Any], out: Path | None) -> Path:
    """Render the run's HTML report to ``out`` (default ``./groves-<run>.html``)."""
    from groves.reporting.html import render_html
    from groves.reporting.stored import load_report
    from lambda_functions.storage import open_storage

    store = open_storage(data)
    page = render_html(store, summary, load_report(store, summary["run_id"]))
    path = out or Path(f"groves-{summary['run_id']}.html")
    path.write_text(page, encoding="utf-8")
    return path.resolve()


def plan(
    run_id: Annotated[
        str | None, typer.Argument(help="Measured run (default: the latest run).")
    ] = None,
    data: Annotated[
        str, typer.Option(help="Store folder or s3:// URL.", envvar="GROVES_STORE")
    ] = "groves-data",
    stocks: Annotated[int | None, typer.Option(help="Target stocks.")] = None,
    cells: Annotated[int | None, typer.Option(help="Target grid cells.")] = None,
    groves: Annotated[int | None, typer.Option(help="Target groves per grid cell.")] = None,
    trees: Annotated[int | None, typer.Option(help="Target trees per grid grove.")] = None,
    final_groves: Annotated[int | None, typer.Option(help="Target final groves.")] = None,
    final_trees: Annotated[int | None, typer.Option(help="Target trees per final grove.")] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Target concurrency limit (Lambda or local workers).")
    ] = None,
    memory: Annotated[int | None, typer.Option(help="Target Lambda memory (MB).")] = None,
    measured_concurrency: Annotated[
        int | None, typer.Option(help="The limit the measured run ran under (default: inferred).")
    ] = None,
    grove_seconds: Annotated[
        float | None,
        typer.Option(help="Given seconds per grid grove: plan without a measured run."),
    ] = None,
    final_grove_seconds: Annotated[
        float | None, typer.Option(help="Given seconds per final grove.")
    ] = None,
    stage_seconds: Annotated[
        str | None, typer.Option(help="Given seconds of other stages: STAGE=S[,STAGE=S].")
    ] = None,
    dispatch_ms: Annotated[
        float, typer.Option(help="With given times: ms between invokes of a stage.")
    ] = 31.0,
    cold_start: Annotated[
        float, typer.Option(help="With given times: seconds of a slot's first use.")
    ] = 0.0,
    assign: Annotated[
        str, typer.Option(help="auto | own | sampled per-invocation times.")
    ] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the sampled times' order.")] = 0,
    pipeline: Annotated[
        str | None,
        typer.Option(help="With given times: grid | per-stock (a measured run: its own)."),
    ] = None,
    rows: Annotated[
        int | None,
        typer.Option(help="Rows per stock, for the per-stock limits check (default: measured)."),
    ] = None,
    wide: WideOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Project makespan and cost at a target scale, simulating waves under the limit.

    For the per-stock pipeline, also says whether one stock's modeling invocation fits
    Lambda's limits (900 s, 10,240 MB) and recommends the grid pipeline when not."""

    def go() -> dict[str, Any]:
        from dataclasses import replace

        from groves import planner

        given = (
            grove_seconds is not None
            or final_grove_seconds is not None
            or stage_seconds
            or pipeline is not None
        )
        if assign not in ("auto", "own", "sampled"):
            raise ValueError(f"--assign must be auto, own or sampled, not {assign!r}")
        changes = {
            k: v
            for k, v in {
                "stocks": stocks,
                "cells": cells,
                "groves": groves,
                "trees": trees,
                "final_groves": final_groves,
                "final_trees": final_trees,
                "concurrency": concurrency,
                "memory_mb": memory,
            }.items()
            if v is not None
        }
        if given:
            seconds = pairs(stage_seconds, "SECONDS", float)
            if grove_seconds is not None:
                seconds["parampreds"] = grove_seconds
            if final_grove_seconds is not None:
                seconds["trainfull"] = final_grove_seconds
            if pipeline is not None:
                changes["pipeline"] = pipeline
            if pipeline == "per-stock" and (grove_seconds or final_grove_seconds):
                raise ValueError(
                    "--grove-seconds and --final-grove-seconds are the grid pipeline's; "
                    "give the per-stock pipeline's with --stage-seconds modeling=S,predict=S"
                )
            target = planner.Scale(**{"stocks": 99, "memory_mb": 3008, **changes})
            profile = planner.profile_from_times(
                seconds, target, dispatch_s=dispatch_ms / 1000, cold_start_s=cold_start
            )
            measured = None
        else:
            from groves.reporting.stored import latest_run
            from lambda_functions.storage import open_storage

            store = open_storage(data)
            measured = run_id or latest_run(data)
            profile = planner.profile_for_run(store, measured, concurrency=measured_concurrency)
            target = replace(profile.scale, **changes)
        result = planner.plan(profile, target, assign=assign, seed=seed)  # type: ignore[arg-type]
        if target.pipeline == "per-stock":
            result["limits"] = per_stock_limits(target, rows, data if measured else None, measured)
        return result

    result = guard(go)
    if as_json:
        console.print_json(json.dumps(result, default=str))
        return
    print_plan(result, wide=wide)


def per_stock_limits(
    target: Any, rows: int | None, data: str | None, run_id: str | None
) -> dict[str, Any]:
    """Whether one stock's ``modeling`` invocation at ``target`` fits Lambda
    (`groves.limits`): rows and the compute rate measured by the run when there is one."""
    from groves.limits import SEED_ROWS, US_PER_TREE_ROW_FEATURE, PerStockFit, rate_from_receipts

    grid: Grid | None = None
    rate, measured_rows = None, None
    if data is not None and run_id is not None:
        from groves.reporting.stored import load_config, load_receipts
        from lambda_functions.layout import RunLayout
        from lambda_functions.storage import open_storage

        store = open_storage(data)
        grid = Grid.model_validate(load_config(store, run_id).get("grid") or {})
        receipts = load_receipts(store, RunLayout(run_id))
        rate = rate_from_receipts(receipts)
        counts = [
            sum(r.result.get("rows", {}).values())
            for r in receipts
            if r.function == "processing" and r.ok
        ]
        measured_rows = max(counts) if counts else None
    fields = {
        "rows": rows or measured_rows or SEED_ROWS,
        "cell_trees": target.groves * target.trees,
        "final_trees": target.final_groves * target.final_trees,
        "memory_mb": target.memory_mb or 3008,
        "us_per_tree_row_feature": rate or US_PER_TREE_ROW_FEATURE,
    }
    if grid is not None and len(grid.cells) == target.cells:
        fit = PerStockFit.of_grid(grid.max_features, grid.min_samples_split, **fields)
    else:  # a grid of that many cells, the seed's features and splits on average
        fit = PerStockFit(cells=target.cells, **fields)
    return {**fit.check(), "rate_measured": rate is not None}
