"""Run the groves benchmarks: ``python -m bench [--quick] [--only a,c]``.

Each benchmark runs in its own Python process (clean memory figures, its own Prefect API
where it needs one), writes ``bench/results/{name}.json``; then ``docs/benchmarks.md``
is generated from the results. Every figure is a ratio (or a rate) measured within one
run, so that a noisy machine moves both sides of it alike.

* a, b: `bench.pipeline` (pipeline vs physical limit; vs a plain joblib script)
* c: `bench.orchestration` (the flow at the seed's scale with a no-op worker)
* d: `bench.invoke_rate` (Event invokes/s against the local Lambda endpoint)
* e: `bench.read_formats` (Parquet vs CSV read of a processed split)
* f: `bench.per_stock` (the per-stock pipeline vs the grid pipeline, same data and grid)
* g: `bench.scale` (how orchestration cost grows: 99/330/990 stocks, local and Dask)
* h: `bench.plots_ahead` (each stock's plots drawn as it finishes vs all after the run)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import PYCACHE, RESULTS, WARM_IMPORTS
from bench.pipeline import GOAL_A, GOAL_B

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
MODULES = {  # result name -> (module, benchmarks it answers)
    "pipeline": ("bench.pipeline", "ab"),
    "orchestration": ("bench.orchestration", "c"),
    "invoke_rate": ("bench.invoke_rate", "d"),
    "read_formats": ("bench.read_formats", "e"),
    "per_stock": ("bench.per_stock", "f"),
    "scale": ("bench.scale", "g"),
    "plots_ahead": ("bench.plots_ahead", "h"),
}


def run_module(module: str, quick: bool, out: Path) -> float:
    """Run one benchmark module in a fresh process; return its wall seconds."""
    args = [sys.executable, "-m", module, "--out", str(out)] + (["--quick"] if quick else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GROVES_N_JOBS": "1"}
    started = time.perf_counter()
    subprocess.run(args, check=True, cwd=ROOT, env=env)
    return time.perf_counter() - started


def _load(out: Path, name: str) -> dict[str, Any] | None:
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _row(label: str, value: float | None, goal: str, met: bool | None, note: str) -> str:
    shown = "not run" if value is None else f"{value:.3g}"
    verdict = "" if met is None else ("met" if met else "**missed**")
    return f"| {label} | {shown} | {goal} | {verdict} | {note} |"


def measured_when(results: dict[str, dict[str, Any] | None]) -> str:
    """When each shown benchmark ran, if not all on one day (a run with ``--only`` keeps
    the others' stored results)."""
    dates = {label: (r.get("measured_at") or "undated")[:10] for label, r in results.items() if r}
    if len(set(dates.values())) <= 1:
        return ""
    return "Measured: " + ", ".join(f"({label}) {day}" for label, day in dates.items()) + ". "


def render(out: Path, quick: bool, walls: dict[str, float]) -> str:
    """The markdown of ``docs/benchmarks.md`` from the results in ``out``."""
    p, c = _load(out, "pipeline"), _load(out, "orchestration")
    d, e = _load(out, "invoke_rate"), _load(out, "read_formats")
    rows = ["| benchmark | measured | goal | | how |", "|---|---|---|---|---|"]
    if p:
        a_ratio, b_ratio = p["ratio_a_pipeline_over_physical"], p["ratio_b_pipeline_over_plain"]
        rows.append(_row(
            "(a) pipeline wall / (fit+predict CPU / cores)", a_ratio, f"<= {GOAL_A}",
            a_ratio <= GOAL_A,
            f"{p['pipeline_wall_s']:.1f} s vs {p['fit_predict_cpu_s']:.1f} CPU-s / "
            f"{p['cores']} cores; {p['invocations']} invocations, {len(p['spec']['stocks'])} "
            f"stocks x {p['spec']['days']} days",
        ))  # fmt: skip
        rows.append(_row(
            "(b) pipeline wall / plain joblib wall", b_ratio, f"<= {GOAL_B}", b_ratio <= GOAL_B,
            f"{p['pipeline_wall_s']:.1f} s vs {p['plain_wall_s']:.1f} s; same test MSEs: "
            f"{p['same_test_mse']}",
        ))  # fmt: skip
    else:
        rows += [
            _row("(a)", None, f"<= {GOAL_A}", None, ""),
            _row("(b)", None, f"<= {GOAL_B}", None, ""),
        ]
    if c:
        rows.append(_row(
            "(c) ms per invocation, no-op worker", c["ms_per_invocation"], "<= 5 ms",
            c["ms_per_invocation"] <= 5.0,
            f"{c['invocations']} invocations ({c['stocks']} stocks) in {c['flow_wall_s']:.1f} s; "
            f"the no-op worker's own CPU {c['stub_cpu_ms_per_invocation']:.2f} ms each "
            f"(net of it: {c['ms_per_invocation_net_of_stub']:.2f} ms)",
        ))  # fmt: skip
        rows.append(_row(
            "(c) orchestrator peak RSS (MiB)", c["orchestrator_peak_rss_mib"], "<= 1024 MiB",
            c["orchestrator_peak_rss_mib"] <= 1024,
            f"Prefect server process: {c['prefect_server_peak_rss_mib'] or 0:.0f} MiB",
        ))  # fmt: skip
    else:
        rows.append(_row("(c)", None, "<= 5 ms, <= 1 GiB", None, ""))
    if d:
        for threads in (1, 16):
            run = d[f"threads_{threads}"]
            rate = run["invokes_per_s"]
            rows.append(_row(
                f"(d) Event invokes/s, {threads} thread(s)", rate, ">= 300/s", rate >= 300,
                f"{run['invokes']} invokes in {run['wall_s']:.2f} s, "
                f"{run['throttled_429']} throttled (429)",
            ))  # fmt: skip
    else:
        rows.append(_row("(d)", None, ">= 300/s", None, ""))
    if e:
        ratio = e["ratio_csv_over_parquet"]
        rows.append(_row(
            "(e) CSV read / Parquet read", ratio, ">= 10x", ratio >= 10,
            f"{e['training_rows']:,} training rows of a {e['source_rows']:,}-row source: "
            f"{e['csv_read_s'] * 1000:.0f} ms vs {e['parquet_read_s'] * 1000:.0f} ms",
        ))  # fmt: skip
        rows.append(_row(
            "(e') CSV read / Parquet read as S3 stores it", e["ratio_csv_over_s3_parquet"],
            "(for reference)", None,
            f"{e['s3_parquet_codec']}: {e['s3_parquet_read_s'] * 1000:.0f} ms, "
            f"{e['s3_parquet_bytes'] / 1e6:.1f} MB vs {e['parquet_bytes'] / 1e6:.1f} MB "
            f"({e['parquet_codec']}, local store)",
        ))  # fmt: skip
    else:
        rows.append(_row("(e)", None, ">= 10x", None, ""))
    f = _load(out, "per_stock")
    if f:
        rows += per_stock_rows(f)
    else:
        rows.append(_row("(f)", None, "(for reference)", None, ""))
    g = _load(out, "scale")
    if g:
        from bench.scale import rows as scale_rows

        rows += scale_rows(g, _row)
    else:
        rows.append(_row("(g)", None, "<= 2 ms, <= 1.2x growth", None, ""))
    h = _load(out, "plots_ahead")
    if h:
        rows += plots_ahead_rows(h)
    else:
        rows.append(_row("(h)", None, "(for reference)", None, ""))
    details: list[str] = []
    if p:
        pipeline_cpu = p["workers_process_cpu_s"] + p["orchestrator_cpu_s"]
        pipeline_cpu += p["prefect_server_cpu_s"] or 0
        details += [
            "## Where the time goes",
            "",
            f"(a, b) on {p['cores']} cores, pipeline wall {p['pipeline_wall_s']:.1f} s. CPU "
            f"seconds: worker processes {p['workers_process_cpu_s']:.1f} (in handlers "
            f"{p['handler_cpu_s']:.1f}, of which fit+predict {p['fit_predict_cpu_s']:.1f}; "
            "the rest is process start and imports), orchestrating process "
            f"{p['orchestrator_cpu_s']:.1f}, Prefect API server "
            f"{p['prefect_server_cpu_s'] or 0:.1f}; pipeline CPU / fit+predict CPU = "
            f"{pipeline_cpu / p['fit_predict_cpu_s']:.2f} (the plain script: "
            f"{p['plain_cpu_s']:.1f} CPU-s with its workers and imports, ratio "
            f"{p['plain_cpu_s'] / p['fit_predict_cpu_s']:.2f}; its wall / the physical limit: "
            f"{p['plain_over_physical']:.2f}). "
            f"Invocations ran {p['receipts_busy_s']:.1f} s in all (in-worker wall: other "
            "processes on the machine take their share too). Wall time outside "
            f"invocations: {p['flow_start_to_first_invoke_s']:.1f} s to the first invoke, "
            f"{p['first_invoke_to_first_start_s']:.1f} s until it started (worker "
            f"processes starting), {p['no_invocation_running_s']:.1f} s with none running "
            f"in between, {p['after_last_end_s']:.1f} s after the last (timing tables, "
            "report, plots, summary).",
            "",
            "No run can take less wall than the physical limit, so (b) cannot go below "
            "physical limit / plain wall = "
            f"{1 / p['plain_over_physical']:.3f} in this run, even with no overhead at all; "
            f"(b) <= {GOAL_B} needs the plain script at least {1 / GOAL_B:.3f}x the "
            "physical limit. And (a) <= "
            f"{GOAL_A} leaves {GOAL_A - 1:.0%} of the fit+predict CPU "
            f"({(GOAL_A - 1) * p['fit_predict_cpu_s']:.1f} CPU-s here) for everything else "
            "on the same cores: here, beside the fits, "
            f"{pipeline_cpu - p['fit_predict_cpu_s']:.1f} CPU-s (workers' I/O, starts and "
            "plots; orchestrator; Prefect server) and the idle head and tail.",
            "",
        ]
    if c:
        details += [
            f"(c) orchestrating process CPU {c['orchestrator_cpu_ms_per_invocation']:.2f} ms "
            f"and Prefect API server CPU {c['prefect_server_cpu_ms_per_invocation']:.2f} ms per "
            f"invocation; {c['to_first_invoke_s']:.1f} s to the first invoke, stages "
            f"{c['stages_s']:.1f} s, then {c['tail_s']:.1f} s of timing tables, report and "
            "summary.",
            "",
        ]
    if f:
        details += per_stock_details(f)
    if g:
        from bench.scale import details as scale_details

        details += scale_details(g)
    machine = next((r["machine"] for r in (p, c, d, e, f, g, h) if r), {})
    lines = [
        "# Benchmarks",
        "",
        (
            "Generated by `python -m bench" + (" --quick" if quick else "") + "` "
            f"on {time.strftime('%Y-%m-%d')} ({machine.get('cpus')} CPUs, Python "
            f"{machine.get('python')}, load average at start "
            f"{machine.get('loadavg_at_start')}); raw results in `bench/results/*.json`. "
            if walls
            else "Rendered by `python -m bench --render` from the stored results in "
            "`bench/results/*.json`: benchmarks measured on different days, each JSON "
            "file records its machine and its load at start. "
        )
        + measured_when({"a, b": p, "c": c, "d": d, "e": e, "f": f, "g": g, "h": h})
        + "Every "
        "figure is a ratio or a rate measured within one run: the machines are shared and "
        "noisy, so absolute times alone prove nothing. Every benchmark process (and its "
        f"workers) caches compiled bytecode in `{PYCACHE}`, as an installed environment "
        "would hold it (this one is installed without it and sets "
        "`PYTHONDONTWRITEBYTECODE=1`, so each new process would otherwise compile "
        "scikit-learn, pandas and Prefect from source).",
        "",
        *rows,
        "",
        *details,
        *(
            [
                "Benchmark wall times (s): "
                + ", ".join(f"{name} {secs:.0f}" for name, secs in walls.items())
                + ".",
                "",
            ]
            if walls
            else []
        ),
        "What each measures: see the docstrings of `bench/pipeline.py` (a, b), "
        "`bench/orchestration.py` (c), `bench/invoke_rate.py` (d), "
        "`bench/read_formats.py` (e), `bench/per_stock.py` (f), "
        "`bench/scale.py` (g) and `bench/plots_ahead.py` (h).",
        "",
    ]
    return "\n".join(lines)


def per_stock_rows(f: dict[str, Any]) -> list[str]:
    """(f): the per-stock pipeline against the grid pipeline on the same data and grid."""
    g, s = f["grid"], f["per_stock"]
    spec = f["spec"]
    what = (
        f"{len(spec['stocks'])} stocks x {spec['days']} days, {len(spec['feat'])}x"
        f"{len(spec['samp'])} grid, {spec['groves']}x{spec['trees']} trees per cell, "
        f"{spec['final_groves']}x{spec['final_trees']} final"
    )
    return [
        _row(
            "(f) per-stock / grid pipeline, wall", f["ratio_wall_per_stock_over_grid"],
            "(for reference)", None, f"{s['wall_s']:.1f} s vs {g['wall_s']:.1f} s; {what}",
        ),
        _row(
            "(f) per-stock / grid pipeline, CPU", f["ratio_cpu_per_stock_over_grid"],
            "(for reference)", None,
            f"{s['cpu_s']:.1f} vs {g['cpu_s']:.1f} CPU-s; invocations {s['invocations']} vs "
            f"{g['invocations']}",
        ),
    ]  # fmt: skip


def plots_ahead_rows(h: dict[str, Any]) -> list[str]:
    """(h): stock plots drawn by the plot pool as stocks finish vs all after the run."""
    ahead, end = h["median"]["ahead"], h["median"]["end"]
    what = (
        f"{h['stocks']} stocks, {h['stock_plots']} stock plots, medians of {len(h['order'])} "
        f"runs ({', '.join(h['order'])}); same plot files: {h['same_plots']}"
    )
    return [
        _row(
            "(h) after the last invocation: plots ahead / at the end",
            h["ratio_tail_ahead_over_end"], "(for reference)", None,
            f"{ahead['after_last_end_s']:.1f} s vs {end['after_last_end_s']:.1f} s; {what}",
        ),
        _row(
            "(h) flow wall: plots ahead / at the end", h["ratio_wall_ahead_over_end"],
            "(for reference)", None, f"{ahead['wall_s']:.1f} s vs {end['wall_s']:.1f} s",
        ),
    ]  # fmt: skip


def per_stock_details(f: dict[str, Any]) -> list[str]:
    g, s, seed = f["grid"], f["per_stock"], f["seed_scale"]
    lines = [
        "## (f) Per-stock vs grid pipeline",
        "",
        "| stock | grid: test MSE / persistence | per-stock: test MSE / persistence |",
        "|---|---|---|",
    ]
    for stock, row in g["stocks"].items():
        other = s["stocks"].get(stock, {})
        lines.append(
            f"| {stock} | {row['test_mse']:.5g} / {row['test_persistence_mse']:.5g} "
            f"({row['test_ratio']:.4f}) | {other.get('test_mse', float('nan')):.5g} / "
            f"{other.get('test_persistence_mse', float('nan')):.5g} "
            f"({other.get('test_ratio', float('nan')):.4f}) |"
        )
    limits = seed["per_stock_limits"]
    big = seed["per_stock_limits_10240"]
    lines += [
        "",
        "At the seed's scale on Lambda (99 stocks of 650,250 rows, 3008 MB; `groves plan`): "
        f"grid pipeline {seed['grid']['invocations']:,} invocations, projected makespan "
        f"{seed['grid']['makespan_s']:,.0f} s, ${seed['grid']['lambda_usd']:.2f}; per-stock "
        f"pipeline {seed['per-stock']['invocations']:,} invocations, one modeling "
        f"invocation ~{limits['seconds']:,.0f} s and ~{limits['peak_mb']:,.0f} MB "
        f"(at 10,240 MB: ~{big['seconds']:,.0f} s) against Lambda's 900 s / 10,240 MB; "
        f"`groves plan --pipeline per-stock` says: {limits['advice']}.",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Smaller sizes (a few minutes).")
    parser.add_argument("--only", default="abcdefgh", help="Benchmarks to run, e.g. 'ce'.")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Results folder.")
    parser.add_argument("--doc", type=Path, default=DOC, help="Markdown table to write.")
    parser.add_argument(
        "--render", action="store_true", help="Only rewrite the markdown from stored results."
    )
    args = parser.parse_args()
    if args.render:
        args.doc.write_text(render(args.out, args.quick, {}))
        print(f"wrote {args.doc}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    walls: dict[str, float] = {}
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", f"import {WARM_IMPORTS}"], check=True, cwd=ROOT, env=env)
    walls["bytecode warm-up"] = time.perf_counter() - started
    for name, (module, letters) in MODULES.items():
        if set(letters) & set(args.only):
            print(f"== {name} ({', '.join(letters)}): python -m {module}", flush=True)
            walls[name] = run_module(module, args.quick, args.out)
    walls["all"] = time.perf_counter() - started
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(render(args.out, args.quick, walls))
    print(f"wrote {args.doc} ({walls['all']:.0f} s in all)")


if __name__ == "__main__":
    main()
