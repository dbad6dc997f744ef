"""Plots of a run's timing report (matplotlib, no pyplot: safe in worker threads)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from groves.reporting.stats import mean_concurrency, peak_concurrency

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


TIMELINE_DENSE = 300  # above this many invocations, bars touch (they read as an area)
WAIT_ALPHA = 0.3  # waiting bars: the stage's colour, lighter
CONCURRENCY_BINS = 200  # the running curve: mean concurrency per 1/200 of the makespan


def plot_timeline(report: Mapping[str, Any]) -> Any:
    """One horizontal bar per invocation, in invoke order: a light part while it waits
    (invoked to start) and a full part while it runs (start to end), coloured by stage;
    below it, the number running as a step line (its mean per 1/200 of the makespan: the
    exact count flickers between neighbours as one invocation ends and the next starts) and
    the parallelism the run was given.

    The layout follows Lithops' timeline and histogram plots: invocations on the y axis in
    submission order, time on x, the concurrency curve on the same time axis (here in its
    own panel so it never hides bars); the legend sits outside the data. Bars are one
    polygon collection per stage and part, so thousands render in well under a second.

    Returns:
        A matplotlib ``Figure`` with two axes sharing x. The first holds, per stage that
        ran, a collection labelled ``"<stage>: waiting"`` then one ``"<stage>: running"``
        (one bar per invocation each); the second holds the ``running`` step line (and a
        ``workers`` line when the report knows the parallelism).
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    timeline = report["series"]["timeline"]
    stages = timeline["stages"]
    rows = sorted(timeline["rows"], key=lambda r: (r[1], r[2], r[0]))  # invoked, start
    table = np.asarray(rows, dtype=float).reshape(-1, 4)  # stage, invoked, start, end
    ys = np.arange(len(table), dtype=float)
    half = 0.5 if len(rows) > TIMELINE_DENSE else 0.4

    fig = Figure(figsize=(12, 7), layout="constrained")
    bars_ax, running_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)})

    def bars(mask: np.ndarray, left: np.ndarray, right: np.ndarray, color: Any, label: str) -> None:
        y = ys[mask]
        verts = np.empty((len(y), 4, 2))
        verts[:, :, 0] = np.column_stack([left[mask], right[mask], right[mask], left[mask]])
        verts[:, :, 1] = np.column_stack([y - half, y - half, y + half, y + half])
        bars_ax.add_collection(PolyCollection(verts, facecolors=[color], linewidths=0, label=label))

    handles: list[Any] = []
    for i, stage in enumerate(stages):
        mine = table[:, 0] == i
        if not mine.any():
            continue
        color = stage_color(stage, stages)
        bars(mine, table[:, 1], table[:, 2], to_rgba(color, WAIT_ALPHA), f"{stage}: waiting")
        bars(mine, table[:, 2], table[:, 3], to_rgba(color), f"{stage}: running")
        handles.append(Patch(color=color, label=f"{stage} ({int(mine.sum())})"))
    handles += [
        Patch(color=to_rgba("grey", WAIT_ALPHA), label="waiting (invoked, not started)"),
        Patch(color="grey", label="running"),
    ]
    end = float(table[:, 3].max()) if len(table) else 1.0
    bars_ax.set_xlim(0, end * 1.01 or 1.0)
    bars_ax.set_ylim(len(rows) - 0.5 if rows else 1, -0.5)  # first invoke on top
    bars_ax.set_ylabel("invocation (invoke order)")
    bars_ax.grid(axis="x", alpha=0.3)

    spans = [(r[2], r[3]) for r in rows]
    edges = np.linspace(0.0, end, CONCURRENCY_BINS + 1)
    counts = [*mean_concurrency(spans, edges), 0.0]
    running_ax.fill_between(edges, counts, step="post", color="black", alpha=0.12, linewidth=0)
    running_ax.step(edges, counts, where="post", color="black", linewidth=1.0, label="running")
    workers = report.get("workers")
    top = max(peak_concurrency(spans), 1)
    if workers:
        running_ax.axhline(workers, color="tab:red", linestyle="--", linewidth=1, label="workers")
        limit = Line2D([], [], color="tab:red", linestyle="--", label=f"workers ({workers})")
        handles.append(limit)
        top = max(top, workers)
    width = end / CONCURRENCY_BINS
    handles.append(Line2D([], [], color="black", label=f"running (mean per {width:.2g} s)"))
    running_ax.set_ylim(0, top * 1.15 + 1)
    running_ax.set_ylabel("running")
    running_ax.set_xlabel("seconds since the first invoke")
    running_ax.grid(alpha=0.3)
    fig.legend(handles=handles, loc="outside right upper", fontsize="small", frameon=False)
    total = report.get("total", {})
    fig.suptitle(
        f"Invocation timeline: {len(rows)} invocations, makespan "
        f"{total.get('makespan_s', end):.1f} s, at most {total.get('peak_concurrency', top)} "
        "running at once"
    )
    return fig


def settle_layout(fig: Any) -> None:
    """Lay ``fig`` out once (its constrained layout), then keep that layout.

    With a layout engine, every ``savefig`` draws the figure twice (a layout pass, then
    the rendering), and a second format lays it out again: about half of a PNG's time.
    Fixing the positions after one pass makes each save a single draw, same pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    engine = fig.get_layout_engine()
    if engine is None or isinstance(engine, PlaceHolderLayoutEngine):
        return  # no layout engine, or already settled
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    fig.set_layout_engine("none")


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """Render a matplotlib ``Figure`` to PNG bytes with the Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    settle_layout(fig)
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def figure_svg(fig: Any) -> bytes:
    """Render a matplotlib ``Figure`` to SVG bytes (text kept as text, no date stamp, so the
    same figure gives the same bytes)."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    settle_layout(fig)
    FigureCanvasSVG(fig)
    buffer = io.BytesIO()
    with rc_context({"svg.hashsalt": "groves"}):  # element ids from a fixed salt
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def plain_text(text: str) -> str:
    """Text for a matplotlib title or label, shown as written (no mathtext from ``$``)."""
    return text.replace("$", r"\$")
