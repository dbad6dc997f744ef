"""Where a run's time went and what it cost: per-stage statistics, cost model and plots.

Pure functions over worker receipts (the dicts `lambda_functions.worker.run_worker`
writes); no Prefect. `build_report` turns a run's receipts into one JSON-able report,
`write_report` saves it (``report.json``, ``cost.csv`` and two PNG plots) under the run's
``timingmetrics/``.

Definitions (per stage; ``total`` is the same over every stage at once). Only successful
receipts of the six pipeline stages count, as in `lambda_functions.timing`:

* makespan: wall clock from the stage's first invoke (``event.invoked_at``, else
  ``start``) to its last ``end``;
* busy: the sum of the invocations' durations (``end - start``, what Lambda bills);
* peak concurrency: the most invocations running at one instant (intervals
  ``[start, end)``, so one ending as another starts do not overlap);
* efficiency: ``busy / (makespan x peak)`` and ``busy / (makespan x workers)``, where
  ``workers`` is the parallelism the run was given (local processes or the Lambda
  in-flight cap);
* invocation rate: invocations / dispatch span (first to last invoke); None with a
  single invoke;
* straggler ratio: the longest duration / the median duration.

Cost model (prices as named constants below, AWS us-east-1, 2024 price list): Lambda
bills GB-seconds (memory x duration, the duration rounded up to 1 ms) and requests; S3
requests are estimated from what each stage reads and writes (`s3_requests`). The VM
comparison runs the same sequential work on one `VM_NAME` with all its vCPUs busy,
billed per second (60 s minimum).
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lambda_functions.storage import Storage
from lambda_functions.timing import STAGES

# Prices: AWS us-east-1, as of the 2024 price list.
PRICES_AS_OF = "AWS us-east-1, as of 2024 price list"
LAMBDA_GB_SECOND_USD = 0.0000166667  # x86_64
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
LAMBDA_BILLING_MS = 1  # billed duration is rounded up to this granularity
S3_PUT_USD = 0.005 / 1000  # PUT, COPY, POST, LIST
S3_GET_USD = 0.0004 / 1000  # GET, SELECT and HEAD
VM_NAME = "c5.xlarge"
VM_VCPUS = 4
VM_HOURLY_USD = 0.17  # on demand, Linux
VM_MIN_BILLED_S = 60  # per-second billing with a one-minute minimum
DEFAULT_MEMORY_MB = 3008  # the seed's Lambda memory (FACTS.md)
MB_PER_GB = 1024

REPORT_FILE = "report.json"
COST_FILE = "cost.csv"
DISTRIBUTIONS_PNG = "distributions.png"
TIMELINE_PNG = "timeline.png"
STAGE_COLORS = {
    "processing": "#1f77b4",
    "parampreds": "#ff7f0e",
    "predmses": "#2ca02c",
    "minmse": "#d62728",
    "trainfull": "#9467bd",
    "testfull": "#8c564b",
}


# ---------------------------------------------------------------------------- receipts


def ok_receipts(receipts: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The successful receipts of the six pipeline stages, in pipeline then start order."""
    order = {s: i for i, s in enumerate(STAGES)}
    kept = [r for r in receipts if r.get("status") == "ok" and r.get("function") in order]
    return sorted(kept, key=lambda r: (order[r["function"]], float(r["start"])))


def invoked_at(receipt: Mapping[str, Any]) -> float:
    """When the orchestrator sent the invocation (its ``start`` if unknown)."""
    sent = (receipt.get("event") or {}).get("invoked_at")
    start = float(receipt["start"])
    return min(float(sent), start) if sent is not None else start


def duration_s(receipt: Mapping[str, Any]) -> float:
    """The invocation's duration, ``end - start`` (never negative)."""
    return max(float(receipt["end"]) - float(receipt["start"]), 0.0)


def io_s(receipt: Mapping[str, Any]) -> float:
    """Read plus write time, in seconds."""
    return (float(receipt.get("read_ms") or 0) + float(receipt.get("write_ms") or 0)) / 1000


def compute_s(receipt: Mapping[str, Any]) -> float:
    """Computation time, in seconds."""
    return float(receipt.get("compute_ms") or 0) / 1000


def concurrency_steps(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, int]]:
    """The number running over time: ``(t, n)`` means n run from t to the next step.

    Intervals are half-open ``[start, end)``: at equal times ends count before starts.
    """
    spans = [(float(s), float(e)) for s, e in intervals if e > s]
    events = sorted(
        [(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans],
        key=lambda ev: (ev[0], ev[1]),
    )
    steps: list[tuple[float, int]] = []
    running = 0
    for t, change in events:
        running += change
        if steps and steps[-1][0] == t:
            steps[-1] = (t, running)
        else:
            steps.append((t, running))
    return steps


def peak_concurrency(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals ``[start, end)`` open at one instant."""
    return max((n for _, n in concurrency_steps(intervals)), default=0)


# ---------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class StageStats:
    """Measured figures of one stage (or of the whole run, as ``total``)."""

    invocations: int
    makespan_s: float
    busy_s: float
    compute_s: float
    io_s: float
    dispatch_span_s: float
    peak_concurrency: int
    efficiency_peak: float | None
    efficiency_workers: float | None
    invocation_rate: float | None
    cold_starts: int
    straggler_ratio: float | None
    median_s: float
    max_s: float
    mean_latency_s: float
    bytes_read: int
    bytes_written: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict (floats rounded to microseconds)."""
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def stage_stats(receipts: Sequence[Mapping[str, Any]], workers: int | None = None) -> StageStats:
    """Makespan, busy time, efficiency, rate, cold starts and stragglers of some receipts.

    Args:
        receipts: Successful receipts (one stage's, or all of a run's).
        workers: The parallelism the run was given, for ``efficiency_workers``.
    """
    if not receipts:
        return StageStats(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, None, None, None, 0, None, 0.0, 0.0,
                          0.0, 0, 0)  # fmt: skip
    sent = [invoked_at(r) for r in receipts]
    ends = [float(r["end"]) for r in receipts]
    durations = [duration_s(r) for r in receipts]
    makespan = max(ends) - min(sent)
    busy = sum(durations)
    peak = peak_concurrency((float(r["start"]), float(r["end"])) for r in receipts)
    span = max(sent) - min(sent)
    median = statistics.median(durations)
    return StageStats(
        invocations=len(receipts),
        makespan_s=makespan,
        busy_s=busy,
        compute_s=sum(compute_s(r) for r in receipts),
        io_s=sum(io_s(r) for r in receipts),
        dispatch_span_s=span,
        peak_concurrency=peak,
        efficiency_peak=busy / (makespan * peak) if makespan > 0 and peak else None,
        efficiency_workers=busy / (makespan * workers) if makespan > 0 and workers else None,
        invocation_rate=len(receipts) / span if span > 0 else None,
        cold_starts=sum(1 for r in receipts if r.get("cold_start")),
        straggler_ratio=max(durations) / median if median > 0 else None,
        median_s=median,
        max_s=max(durations),
        mean_latency_s=statistics.fmean(
            float(r["start"]) - s for r, s in zip(receipts, sent, strict=True)
        ),
        bytes_read=sum(int(r.get("bytes_read") or 0) for r in receipts),
        bytes_written=sum(int(r.get("bytes_written") or 0) for r in receipts),
    )


# ---------------------------------------------------------------------------- cost


def s3_requests(receipt: Mapping[str, Any]) -> tuple[int, int]:
    """Estimated S3 (PUT-class, GET-class) requests of one invocation, from its event.

    What each worker reads and writes (HEADs, as in ``exists``, bill as GETs), plus its
    receipt (one PUT, and one GET when the orchestrator reads it). The seed's layout adds
    three runtime ``.txt`` files per runtime folder. LISTs made while awaiting receipts
    depend on polling, not on the work, and are not counted.
    """
    function = receipt["function"]
    event = receipt.get("event") or {}
    grid = event.get("grid") or {}
    grid_cells = len(grid.get("max_features") or (5, 7, 9)) * len(
        grid.get("min_samples_split") or (5, 15, 25)
    )
    one_cell = event.get("feat") is not None and event.get("samp") is not None
    groves = int(event.get("groves") or (30 if function == "testfull" else 3))
    if function == "processing":
        puts, gets, runtime_dirs = 3, 2, 1  # HEAD + GET raw; three splits
    elif function == "parampreds":
        puts, gets, runtime_dirs = 1, 2, 1  # training + validation; predictions
    elif function == "predmses":
        cells = 1 if one_cell else grid_cells
        puts, gets, runtime_dirs = cells, 1 + 2 * cells * groves, cells
    elif function == "minmse":
        puts, gets, runtime_dirs = 1, 2 * grid_cells, 1
    elif function == "trainfull":
        best = 0 if one_cell else 2  # HEAD + GET best_params.csv
        puts, gets, runtime_dirs = 2, 3 + best, 1  # model + predictions
    elif function == "testfull":
        puts, gets, runtime_dirs = 1, 1 + 2 * groves, 1
    else:
        puts, gets, runtime_dirs = 0, 0, 0
    if event.get("bucket") or event.get("inbucket"):  # the seed's layout
        puts += 3 * runtime_dirs
    return puts + 1, gets + 1  # the receipt


def billed_ms(receipt: Mapping[str, Any]) -> int:
    """Lambda's billed duration: ``end - start`` rounded up to `LAMBDA_BILLING_MS`."""
    ms = duration_s(receipt) * 1000
    return math.ceil(round(ms, 6) / LAMBDA_BILLING_MS) * LAMBDA_BILLING_MS


def receipt_memory_mb(receipt: Mapping[str, Any], memory_mb: int | None) -> int:
    """The memory to bill: ``memory_mb`` if given, else the receipt's, else the seed's."""
    return int(memory_mb or receipt.get("memory_limit_mb") or DEFAULT_MEMORY_MB)


def lambda_cost(
    receipts: Sequence[Mapping[str, Any]], memory_mb: int | None = None
) -> dict[str, Any]:
    """Lambda compute, request and S3 request charges of some successful receipts."""
    billed = [billed_ms(r) for r in receipts]
    gb_s = sum(
        receipt_memory_mb(r, memory_mb) / MB_PER_GB * ms / 1000
        for r, ms in zip(receipts, billed, strict=True)
    )
    requests = [s3_requests(r) for r in receipts]
    puts = sum(p for p, _ in requests)
    gets = sum(g for _, g in requests)
    compute_usd = gb_s * LAMBDA_GB_SECOND_USD
    request_usd = len(receipts) * LAMBDA_REQUEST_USD
    s3_usd = puts * S3_PUT_USD + gets * S3_GET_USD
    return {
        "invocations": len(receipts),
        "billed_s": sum(billed) / 1000,
        "gb_s": gb_s,
        "compute_usd": compute_usd,
        "request_usd": request_usd,
        "s3_put": puts,
        "s3_get": gets,
        "s3_usd": s3_usd,
        "total_usd": compute_usd + request_usd + s3_usd,
    }


def vm_cost(sequential_s: float, vcpus: int = VM_VCPUS, hourly_usd: float = VM_HOURLY_USD) -> dict:
    """The same work on one VM: sequential seconds spread over its vCPUs, billed per second."""
    wall = sequential_s / vcpus
    billed = max(math.ceil(round(wall, 6)), VM_MIN_BILLED_S) if sequential_s > 0 else 0
    return {
        "name": VM_NAME,
        "vcpus": vcpus,
        "hourly_usd": hourly_usd,
        "sequential_s": sequential_s,
        "wall_s": wall,
        "billed_s": billed,
        "total_usd": billed * hourly_usd / 3600,
    }


def cost_estimate(
    receipts: Sequence[Mapping[str, Any]], memory_mb: int | None = None
) -> dict[str, Any]:
    """Per-stage and total Lambda cost, the one-VM cost of the same work, and the prices."""
    receipts = ok_receipts(receipts)
    stages = {s: lambda_cost([r for r in receipts if r["function"] == s], memory_mb)
              for s in STAGES}  # fmt: skip
    total = lambda_cost(receipts, memory_mb)
    vm = vm_cost(sum(duration_s(r) for r in receipts))
    return {
        "prices": {
            "as_of": PRICES_AS_OF,
            "lambda_gb_second_usd": LAMBDA_GB_SECOND_USD,
            "lambda_request_usd": LAMBDA_REQUEST_USD,
            "lambda_billing_ms": LAMBDA_BILLING_MS,
            "s3_put_usd": S3_PUT_USD,
            "s3_get_usd": S3_GET_USD,
            "vm": f"{VM_NAME} ({VM_VCPUS} vCPU) ${VM_HOURLY_USD}/h",
        },
        "memory_mb": memory_mb,
        "lambda": {"stages": stages, "total": total},
        "vm": vm,
        "lambda_over_vm": total["total_usd"] / vm["total_usd"] if vm["total_usd"] else None,
    }


# ---------------------------------------------------------------------------- report


def build_report(
    receipts: Iterable[Mapping[str, Any]],
    *,
    memory_mb: int | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Per-stage statistics, cost and the plots' data of a run, as one JSON-able dict.

    Args:
        receipts: The run's receipts (failed attempts and run-level ones are ignored).
        memory_mb: Lambda memory to bill at (default: each receipt's, else 3008 MB).
        workers: The parallelism the run was given (local processes, or the Lambda
            in-flight cap), for ``efficiency_workers``.

    Returns:
        ``stages`` (stage -> `StageStats` dict), ``total``, ``cost`` (see
        `cost_estimate`) and ``series`` (per-stage compute and I/O seconds, and the
        timeline rows ``[stage index, invoked, start, end]`` in seconds from ``t0``).
    """
    everything = list(receipts)
    kept = ok_receipts(everything)
    by_stage = {s: [r for r in kept if r["function"] == s] for s in STAGES}
    t0 = min((invoked_at(r) for r in kept), default=0.0)
    index = {s: i for i, s in enumerate(STAGES)}
    rows = [
        [index[r["function"]], *(round(t - t0, 6) for t in
                                 (invoked_at(r), float(r["start"]), float(r["end"])))]
        for r in kept
    ]  # fmt: skip
    return {
        "receipts": len(kept),
        "failed_receipts": sum(1 for r in everything if r.get("status") not in (None, "ok")),
        "workers": workers,
        "stages": {s: stage_stats(rs, workers).as_dict() for s, rs in by_stage.items()},
        "total": {**stage_stats(kept, workers).as_dict(), "straggler_ratio": None},
        "cost": cost_estimate(kept, memory_mb),
        "series": {
            "compute_s": {s: [round(compute_s(r), 6) for r in rs] for s, rs in by_stage.items()},
            "io_s": {s: [round(io_s(r), 6) for r in rs] for s, rs in by_stage.items()},
            "timeline": {"t0": t0, "stages": list(STAGES), "rows": rows},
        },
    }


def compact(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report without its plot series (for run summaries)."""
    return {k: v for k, v in report.items() if k != "series"}


def stage_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-stage statistics as table rows (stages with invocations, then ``total``)."""

    def fmt(value: Any, digits: int) -> Any:
        return None if value is None else round(value, digits)

    rows = []
    entries = [(s, report["stages"][s]) for s in STAGES] + [("total", report["total"])]
    for name, st in entries:
        if not st["invocations"]:
            continue
        rows.append(
            {
                "stage": name,
                "invocations": st["invocations"],
                "makespan s": fmt(st["makespan_s"], 3),
                "busy s": fmt(st["busy_s"], 3),
                "peak conc.": st["peak_concurrency"],
                "eff. (peak)": fmt(st["efficiency_peak"], 3),
                "eff. (workers)": fmt(st["efficiency_workers"], 3),
                "invokes/s": fmt(st["invocation_rate"], 1),
                "cold starts": st["cold_starts"],
                "straggler": fmt(st["straggler_ratio"], 2),
            }
        )
    return rows


def cost_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cost table: a row per stage with invocations, the Lambda total and the VM."""
    cost = report["cost"]
    rows = []
    entries = [(s, cost["lambda"]["stages"][s]) for s in STAGES]
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


# ---------------------------------------------------------------------------- plots


def plot_distributions(report: Mapping[str, Any]) -> Any:
    """Box plots of compute and of I/O seconds, one box per stage that ran.

    Returns:
        A matplotlib ``Figure`` with two axes (compute, I/O); each has one box per stage.
    """
    from matplotlib.figure import Figure

    series = report["series"]
    stages = [s for s in STAGES if series["compute_s"].get(s)]
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    axes = fig.subplots(1, 2, sharey=False)
    for ax, kind, title in zip(
        axes,
        ("compute_s", "io_s"),
        ("Computation per invocation", "I/O per invocation"),
        strict=True,
    ):
        data = [series[kind][s] for s in stages]
        if data:
            boxes = ax.boxplot(data, patch_artist=True, showfliers=True)
            for patch, stage in zip(boxes["boxes"], stages, strict=True):
                patch.set_facecolor(STAGE_COLORS[stage])
                patch.set_alpha(0.6)
            ax.set_xticks(range(1, len(stages) + 1), stages, rotation=30)
        ax.set_title(title)
        ax.set_ylabel("seconds")
        ax.grid(axis="y", alpha=0.3)
    return fig


def plot_timeline(report: Mapping[str, Any]) -> Any:
    """One horizontal bar per invocation (start to end, colored by stage) and the
    number running over time on a twin axis.

    Bars are drawn as one polygon collection per series (thousands of invocations
    render in well under a second).

    Returns:
        A matplotlib ``Figure``: its first axes holds a collection of waits (invoked to
        start, one bar per invocation) then one collection per stage that ran (one bar
        per invocation, start to end), each labelled; its twin axes holds one line (the
        concurrency curve).
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    timeline = report["series"]["timeline"]
    stages = timeline["stages"]
    rows = sorted(timeline["rows"], key=lambda r: (r[2], r[0]))
    fig = Figure(figsize=(11, 5), layout="constrained")
    ax = fig.subplots()
    half = 0.4 if len(rows) < 200 else 0.5

    table = np.asarray(rows, dtype=float).reshape(-1, 4)  # stage, invoked, start, end
    ys = np.arange(len(table), dtype=float)

    def bars(y: np.ndarray, left: np.ndarray, right: np.ndarray, color: str, label: str) -> None:
        verts = np.empty((len(y), 4, 2))
        verts[:, :, 0] = np.column_stack([left, right, right, left])
        verts[:, :, 1] = np.column_stack([y - half, y - half, y + half, y + half])
        ax.add_collection(PolyCollection(verts, facecolors=color, linewidths=0, label=label))

    bars(ys, table[:, 1], table[:, 2], "lightgrey", "waiting (invoked to start)")
    for i, stage in enumerate(stages):
        mine = table[:, 0] == i
        if mine.any():
            bars(ys[mine], table[mine, 2], table[mine, 3], STAGE_COLORS.get(stage, "grey"), stage)
    end = max((r[3] for r in rows), default=1.0)
    ax.set_xlim(0, end * 1.02 or 1.0)
    ax.set_ylim(-1, max(len(rows), 1))
    ax.set_xlabel("seconds since the first invoke")
    ax.set_ylabel("invocation (by start)")
    twin = ax.twinx()
    steps = concurrency_steps((r[2], r[3]) for r in rows)
    xs = [0.0] + [t for t, _ in steps]
    ys = [0] + [n for _, n in steps]
    twin.step(xs, ys, where="post", color="black", linewidth=0.8, alpha=0.7, label="running")
    twin.set_ylabel("invocations running")
    twin.set_ylim(0, max(ys) * 1.1 + 1)
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="upper right", fontsize="small")
    ax.set_title(f"Invocation timeline ({len(rows)} invocations)")
    return fig


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """Render a matplotlib ``Figure`` to PNG bytes with the Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def write_report(store: Storage, run_prefix: str, report: Mapping[str, Any]) -> dict[str, str]:
    """Save ``report.json``, ``cost.csv`` and the two PNGs under ``{run_prefix}timingmetrics/``.

    Args:
        store: The run's store.
        run_prefix: The run's folder, e.g. ``runs/{run_id}/``.
        report: What `build_report` returned.

    Returns:
        What was written: ``{"report": key, "cost": key, "distributions": key, "timeline": key}``.
    """
    prefix = f"{run_prefix.rstrip('/')}/timingmetrics/"
    keys = {
        "report": prefix + REPORT_FILE,
        "cost": prefix + COST_FILE,
        "distributions": prefix + DISTRIBUTIONS_PNG,
        "timeline": prefix + TIMELINE_PNG,
    }
    store.put_bytes(keys["distributions"], figure_png(plot_distributions(report)))
    store.put_bytes(keys["timeline"], figure_png(plot_timeline(report)))
    store.put_text(keys["cost"], cost_csv(report))
    store.put_bytes(keys["report"], json.dumps({**report, "files": keys}, indent=1).encode())
    return keys


def report_markdown(report: Mapping[str, Any], files: Mapping[str, str], base_url: str) -> str:
    """A markdown summary linking the plots (for a Prefect markdown artifact)."""
    total = report["total"]
    cost = report["cost"]
    ratio = cost["lambda_over_vm"]
    base = base_url.rstrip("/")
    lines = [
        "# Timing report",
        f"{report['receipts']} invocations, makespan {total['makespan_s']:.2f} s, busy "
        f"{total['busy_s']:.2f} s, peak concurrency {total['peak_concurrency']}.",
        "",
        f"Lambda estimate ${cost['lambda']['total']['total_usd']:.6f} vs "
        f"{cost['vm']['name']} ${cost['vm']['total_usd']:.6f}"
        + (f" ({ratio:.2f}x)" if ratio else "")
        + f" - prices: {cost['prices']['as_of']}.",
        "",
        f"- Distributions of compute and I/O time: [{files['distributions']}]"
        f"({base}/{files['distributions']})",
        f"- Invocation timeline: [{files['timeline']}]({base}/{files['timeline']})",
        f"- Report: [{files['report']}]({base}/{files['report']}), cost table: "
        f"[{files['cost']}]({base}/{files['cost']})",
    ]
    return "\n".join(lines)
