"""Plots of a run's timing report (matplotlib, no pyplot: safe in worker threads)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from groves.reporting.stats import concurrency_steps

STAGE_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
)  # fmt: skip


def stage_color(stage: str, stages: Sequence[str]) -> str:
    """A stage's colour: by its position in its pipeline, the same in every plot."""
    index = list(stages).index(stage) if stage in stages else len(STAGE_COLORS) - 1
    return STAGE_COLORS[index % len(STAGE_COLORS)]


def plot_distributions(report: Mapping[str, Any]) -> Any:
    """Box plots of compute and of I/O seconds, one box per stage that ran.

    Returns:
        A matplotlib ``Figure`` with two axes (compute, I/O); each has one box per stage.
    """
    from matplotlib.figure import Figure

    series = report["series"]
    stages = [s for s in report["stage_names"] if series["compute_s"].get(s)]
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
                patch.set_facecolor(stage_color(stage, report["stage_names"]))
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
            bars(ys[mine], table[mine, 2], table[mine, 3], stage_color(stage, stages), stage)
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
