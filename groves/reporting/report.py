"""A run's timing report: per-stage statistics, cost and plot data in one JSON-able dict,
its table rows, and its files (``report.json``, ``cost.csv`` and the plots) in the store.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from groves.reporting.cost import cost_estimate
from groves.reporting.plots import figure_png, plot_distributions, plot_timeline
from groves.reporting.stats import ok_receipts, stage_stats
from groves.reporting.timings import InvocationTiming
from lambda_functions.layout import RunLayout
from lambda_functions.receipts import Receipt
from lambda_functions.storage import Storage

REPORT_FILE = "report.json"
COST_FILE = "cost.csv"
DISTRIBUTIONS_PNG = "distributions.png"
TIMELINE_PNG = "timeline.png"


def build_report(
    receipts: Iterable[Receipt | InvocationTiming],
    stages: Sequence[str],
    *,
    memory_mb: int | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Per-stage statistics, cost and the plots' data of a run, as one JSON-able dict.

    Args:
        receipts: The run's receipts, or their `InvocationTiming` (what
            `groves.reporting.stored.load_timings` reads); failed attempts and other
            stages' are ignored.
        stages: The pipeline's stage names, in order.
        memory_mb: Lambda memory to bill at (default: each receipt's, else 3008 MB).
        workers: The parallelism the run was given (local processes, or the Lambda
            in-flight cap), for ``efficiency_workers``.

    Returns:
        ``stages`` (stage -> `StageStats` dict), ``total``, ``cost`` (see
        `cost_estimate`), ``stage_names`` and ``series`` (per-stage compute and I/O
        seconds, and timeline rows ``[stage index, invoked, start, end]`` in seconds from
        ``t0``).
    """
    everything = [InvocationTiming.of(r) for r in receipts]
    kept = ok_receipts(everything, stages)
    by_stage = {s: [r for r in kept if r.function == s] for s in stages}
    t0 = min((r.invoked_at for r in kept), default=0.0)
    index = {s: i for i, s in enumerate(stages)}
    rows = [
        [index[r.function], *(round(t - t0, 6) for t in (r.invoked_at, r.start, r.end))]
        for r in kept
    ]
    return {
        "receipts": len(kept),
        "failed_receipts": sum(1 for r in everything if not r.ok),
        "workers": workers,
        "stage_names": list(stages),
        "stages": {s: stage_stats(rs, workers).as_dict() for s, rs in by_stage.items()},
        "total": {**stage_stats(kept, workers).as_dict(), "straggler_ratio": None},
        "cost": cost_estimate(kept, stages, memory_mb),
        "series": {
            "compute_s": {s: [round(r.compute_s, 6) for r in rs] for s, rs in by_stage.items()},
            "io_s": {s: [round(r.io_s, 6) for r in rs] for s, rs in by_stage.items()},
            "timeline": {"t0": t0, "stages": list(stages), "rows": rows},
        },
    }


def compact(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report without its plot series (for run summaries)."""
    return {k: v for k, v in report.items() if k != "series"}


def _round(value: Any, digits: int) -> Any:
    return None if value is None else round(value, digits)


def stage_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-stage statistics as table rows (stages with invocations, then ``total``)."""
    rows = []
    entries = [(s, report["stages"][s]) for s in report["stages"]] + [("total", report["total"])]
    for name, st in entries:
        if not st["invocations"]:
            continue
        rows.append(
            {
                "stage": name,
                "invocations": st["invocations"],
                "makespan s": _round(st["makespan_s"], 3),
                "busy s": _round(st["busy_s"], 3),
                "peak conc.": st["peak_concurrency"],
                "eff. (peak)": _round(st["efficiency_peak"], 3),
                "eff. (workers)": _round(st["efficiency_workers"], 3),
                "invokes/s": _round(st["invocation_rate"], 1),
                "cold starts": st["cold_starts"],
                "straggler": _round(st["straggler_ratio"], 2),
            }
        )
    return rows


def cost_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cost table: a row per stage with invocations, the Lambda total and the VM."""
    cost = report["cost"]
    rows = []
    entries = list(cost["lambda"]["stages"].items())
    for name, c in [*entries, ("lambda total", cost["lambda"]["total"])]:
        if not c["invocations"]:
            continue
        rows.append(
            {
                "item": name,
                "invocations": c["invocations"],
                "billed s": round(c["billed_s"], 3),
                "GB-s": round(c["gb_s"], 3),
                "compute $": round(c["compute_usd"], 8),
                "requests $": round(c["request_usd"], 8),
                "S3 PUT": c["s3_put"],
                "S3 GET": c["s3_get"],
                "S3 $": round(c["s3_usd"], 8),
                "total $": round(c["total_usd"], 8),
            }
        )
    vm = cost["vm"]
    rows.append(
        {
            "item": f"VM {vm['name']} ({vm['vcpus']} vCPU)",
            "invocations": None,
            "billed s": vm["billed_s"],
            "GB-s": None,
            "compute $": round(vm["total_usd"], 8),
            "requests $": None,
            "S3 PUT": None,
            "S3 GET": None,
            "S3 $": None,
            "total $": round(vm["total_usd"], 8),
        }
    )
    return rows


def distribution_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The distribution plot's data: quartiles of compute and I/O seconds per stage."""
    rows = []
    for kind in ("compute_s", "io_s"):
        for stage, values in report["series"][kind].items():
            if not values:
                continue
            q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else (
                values * 3)  # fmt: skip
            rows.append(
                {
                    "stage": stage,
                    "time": kind.removesuffix("_s").replace("io", "I/O"),
                    "n": len(values),
                    "min s": round(min(values), 4),
                    "p25 s": round(q[0], 4),
                    "median s": round(q[1], 4),
                    "p75 s": round(q[2], 4),
                    "max s": round(max(values), 4),
                }
            )
    return rows


def cost_csv(report: Mapping[str, Any]) -> str:
    """`cost_rows` as CSV text, each row naming the price list it used."""
    as_of = report["cost"]["prices"]["as_of"]
    rows = [{**row, "prices": as_of} for row in cost_rows(report)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_report(
    store: Storage, layout: RunLayout, report: Mapping[str, Any], plots: bool = True
) -> dict[str, str]:
    """Save ``report.json``, ``cost.csv`` and (``plots``) the two PNGs in the run's
    ``timingmetrics/``.

    Returns:
        What was written: ``{"report": key, "cost": key}``, with plots also
        ``"distributions"`` and ``"timeline"``.
    """
    keys = {"report": layout.report_key(REPORT_FILE), "cost": layout.report_key(COST_FILE)}
    if plots:
        keys["distributions"] = layout.report_key(DISTRIBUTIONS_PNG)
        keys["timeline"] = layout.report_key(TIMELINE_PNG)
        store.put_bytes(keys["distributions"], figure_png(plot_distributions(report)))
        store.put_bytes(keys["timeline"], figure_png(plot_timeline(report)))
    store.put_text(keys["cost"], cost_csv(report))
    # Compact: indented, json falls back to its pure-Python encoder (~1 s at 68,000 rows).
    report_json = json.dumps({**report, "files": keys}, separators=(",", ":"))
    store.put_bytes(keys["report"], report_json.encode())
    return keys
