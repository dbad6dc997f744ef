"""Plots of a run's results (matplotlib, no pyplot): a stock's test-period forecast, its
grid search as a heatmap, and one overview of every stock against persistence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from groves.reporting.outputs import Forecast, GridScores
from groves.reporting.plots import plain_text

WINDOW_ROWS = 120  # the readable window: the test period's last two hours of minutes
THIN_POINTS = 4000  # longer whole-period lines are drawn as their min-max envelope
MAX_TICKS = 10
ACTUAL, PREDICTED, PERSISTENCE = "black", "tab:blue", "tab:orange"
BETTER, WORSE = "tab:green", "tab:red"
OVERVIEW_MAX_BARS = 60  # a bar per stock up to this many (a 100-stock chart is ~35 inches)
OVERVIEW_EACH_END = 25  # past it: the best and the worst this many


def _time_ticks(ax: Any, index: pd.Index, start: int = 0) -> None:
    """Label positions ``start..start+len(index)`` with times: each day's first minute (by
    date) when the rows span days, else evenly spaced clock times."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) == 0:
        return
    days = index.normalize()
    firsts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    if len(firsts) > 1:
        step = max(1, int(np.ceil(len(firsts) / MAX_TICKS)))
        chosen = firsts[::step]
        labels = [index[i].strftime("%d %b") for i in chosen]
    else:
        chosen = np.linspace(0, len(index) - 1, min(len(index), 7)).round().astype(int)
        labels = [index[i].strftime("%H:%M") for i in chosen]
    ax.set_xticks(start + chosen, labels)


def envelope(x: np.ndarray, y: np.ndarray, points: int = THIN_POINTS) -> tuple[Any, Any]:
    """At most ``points`` points that draw like the whole line: each bucket of consecutive
    points gives its minimum and maximum, in their own order."""
    n = len(y)
    if n <= points:
        return x, y
    size = int(np.ceil(n / (points // 2)))
    pad = (-n) % size
    blocks = np.concatenate([y, np.full(pad, y[-1])]).reshape(-1, size)
    lows, highs = blocks.argmin(axis=1), blocks.argmax(axis=1)
    starts = np.arange(len(blocks)) * size
    picks = np.sort(np.column_stack([starts + lows, starts + highs]), axis=1).ravel()
    picks = np.minimum(picks, n - 1)
    return x[picks], y[picks]


def plot_forecast(forecast: Forecast, window: int = WINDOW_ROWS) -> Any:
    """A stock's test period: actual vs predicted vs persistence over the whole period and
    over its last ``window`` minutes, then the residuals over time and their distribution.

    The x axis counts test rows (minutes), labelled with dates or clock times, so nights
    and weekends leave no gaps.

    Returns:
        A matplotlib ``Figure`` with four axes: the whole period, the window (each with
        the lines actual, predicted, persistence), residuals over time (model, persistence)
        and their histograms.
    """
    from matplotlib.figure import Figure

    n = len(forecast.actual)
    x = np.arange(n)
    fig = Figure(figsize=(12, 10), layout="constrained")
    grid = fig.add_gridspec(3, 3, height_ratios=(1.1, 1.1, 1))
    whole = fig.add_subplot(grid[0, :])
    zoom = fig.add_subplot(grid[1, :])
    residuals = fig.add_subplot(grid[2, :2])
    spread = fig.add_subplot(grid[2, 2])

    lines = (
        ("actual", forecast.actual, ACTUAL, "-"),
        ("persistence (last price)", forecast.persistence, PERSISTENCE, "--"),
        ("predicted", forecast.predicted, PREDICTED, "-"),
    )
    for label, values, color, style in lines:
        whole.plot(*envelope(x, values), color=color, linestyle=style, linewidth=0.7, label=label)
    first = max(n - window, 0)
    whole.axvspan(first, n - 1, color="grey", alpha=0.15, linewidth=0)
    whole.set_xlim(0, max(n - 1, 1))
    whole.set_title(f"whole test period ({n} minutes); shaded: the window below", loc="left")
    whole.set_ylabel("price")
    _time_ticks(whole, forecast.index)

    part = slice(first, n)
    for label, values, color, style in lines:
        zoom.plot(
            x[part], values[part], color=color, linestyle=style, linewidth=1.1,
            marker="o" if label == "actual" else None, markersize=2.5, label=label,
        )  # fmt: skip
    zoom.set_xlim(first, max(n - 1, first + 1))
    zoom.set_title(f"last {n - first} minutes", loc="left")
    zoom.set_ylabel("price")
    _time_ticks(zoom, forecast.index[part], start=first)

    model_error = forecast.actual - forecast.predicted
    naive_error = forecast.actual - forecast.persistence
    residuals.plot(*envelope(x, naive_error), color=PERSISTENCE, linewidth=0.5, alpha=0.6)
    residuals.plot(*envelope(x, model_error), color=PREDICTED, linewidth=0.5, alpha=0.9)
    residuals.axhline(0, color="black", linewidth=0.6)
    residuals.set_xlim(0, max(n - 1, 1))
    residuals.set_title("residuals (actual - forecast)", loc="left")
    _time_ticks(residuals, forecast.index)

    both = np.concatenate([model_error, naive_error])
    edges = np.histogram_bin_edges(both[np.isfinite(both)], bins=60) if n else 10
    for errors, color, name, mse in (
        (naive_error, PERSISTENCE, "persistence", forecast.persistence_mse),
        (model_error, PREDICTED, "model", forecast.mse),
    ):
        spread.hist(errors, bins=edges, histtype="step", color=color, linewidth=1.2,
                    label=f"{name}: MSE {mse:.4g}")  # fmt: skip
    spread.set_title("residual distribution", loc="left")
    spread.legend(fontsize="small", loc="upper right")
    spread.set_yticks([])

    for ax in (whole, zoom, residuals):
        ax.grid(alpha=0.3)
    fig.legend(
        *whole.get_legend_handles_labels(), loc="outside lower center", ncols=3, frameon=False
    )
    ratio = forecast.ratio
    verdict = "" if ratio is None else f" = {ratio:.3f} x persistence"
    fig.suptitle(
        plain_text(
            f"{forecast.stock}: test-period forecast, MSE {forecast.mse:.4g}{verdict} "
            f"(mean of {forecast.groves} final groves)"
        ),
        x=0.01,
        horizontalalignment="left",
    )
    return fig


def plot_grid(
    grid: GridScores, persistence_mse: float | None = None, chosen: tuple[int, int] | None = None
) -> Any:
    """The grid search as a heatmap: validation MSE per (max_features, min_samples_split)
    cell, each cell labelled with its MSE (and its ratio to persistence when given), the
    chosen cell outlined.

    Args:
        grid: The scored cells.
        persistence_mse: The validation period's persistence MSE, for the ratios.
        chosen: The cell the run picked (default: the lowest MSE).

    Returns:
        A matplotlib ``Figure``: one axes holding the heatmap image (rows: min_samples_split,
        columns: max_features) and a text per cell; a colour bar.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    matrix = grid.matrix()
    values = matrix.to_numpy(dtype=float)
    rows, cols = values.shape
    fig = Figure(figsize=(max(2.2 + 1.25 * cols, 5.5), 2.2 + 0.75 * rows), layout="constrained")
    ax = fig.subplots()
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    from matplotlib import colormaps

    image = ax.imshow(
        np.ma.masked_invalid(values),
        cmap=colormaps["viridis_r"].with_extremes(bad="lightgrey"),
        aspect="auto",
        vmin=low,
        vmax=high if high > low else low + abs(low) * 1e-9 + 1e-12,
    )  # fmt: skip
    for r in range(rows):
        for c in range(cols):
            value = values[r, c]
            if not np.isfinite(value):
                ax.text(c, r, "not scored", ha="center", va="center", fontsize="small")
                continue
            text = f"{value:.4g}"
            if persistence_mse:
                text += f"\n{value / persistence_mse:.3f} x pers."
            shade = (value - low) / (high - low) if high > low else 0.0
            ax.text(c, r, text, ha="center", va="center", fontsize="small",
                    color="black" if shade < 0.5 else "white")  # fmt: skip
    best = chosen or grid.best
    if best[0] in matrix.columns and best[1] in matrix.index:
        col, row = list(matrix.columns).index(best[0]), list(matrix.index).index(best[1])
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="tab:red",
                               linewidth=3, label="chosen"))  # fmt: skip
    ax.set_xticks(range(cols), [str(v) for v in matrix.columns])
    ax.set_yticks(range(rows), [str(v) for v in matrix.index])
    ax.set_xlabel("max_features")
    ax.set_ylabel("min_samples_split")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("validation MSE (lower is better)")
    fig.suptitle(
        plain_text(f"{grid.stock}: grid search\nchosen (max_features, min_samples_split) = "
                   f"{best}"),
        fontsize="medium",
    )  # fmt: skip
    return fig


def plot_overview(ratios: Sequence[tuple[str, float]]) -> Any:
    """Test MSE / persistence MSE per stock, best on top: a bar from 1.0 to each ratio
    (left of the line: the model beats persistence), each labelled with its value. Past
    `OVERVIEW_MAX_BARS` stocks only the `OVERVIEW_EACH_END` best and worst get a bar, with
    a row between them saying how many are left out (the title counts them all).

    Returns:
        A matplotlib ``Figure`` with one axes: one bar per stock shown (a `BarContainer`)
        and the vertical line at 1.0.
    """
    from matplotlib.figure import Figure

    ordered = sorted(ratios, key=lambda item: (item[1], item[0]))
    left_out = len(ordered) - 2 * OVERVIEW_EACH_END if len(ordered) > OVERVIEW_MAX_BARS else 0
    shown = ordered[:OVERVIEW_EACH_END] + ordered[-OVERVIEW_EACH_END:] if left_out else ordered
    names = [plain_text(name) for name, _ in shown]
    values = np.asarray([value for _, value in shown], dtype=float)
    rows = len(shown) + (1 if left_out else 0)
    fig = Figure(figsize=(9, 1.6 + 0.32 * max(rows, 1)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(shown))
    if left_out:  # the worst go below the row that stands for the ones left out
        y[OVERVIEW_EACH_END:] += 1
        names.insert(OVERVIEW_EACH_END, f"({left_out} more)")
    colors = [BETTER if v < 1 else WORSE for v in values]
    ax.barh(y, values - 1.0, left=1.0, color=colors, height=0.6)
    ax.axvline(1.0, color="black", linewidth=1.2)
    span = max(float(np.max(np.abs(values - 1.0))) if len(values) else 0.0, 0.01)
    ax.set_xlim(1.0 - span * 1.35, 1.0 + span * 1.35)
    for yi, value in zip(y, values, strict=True):
        ax.text(value + (span * 0.03 if value >= 1 else -span * 0.03), yi, f"{value:.3f}",
                va="center", ha="left" if value >= 1 else "right", fontsize="small")  # fmt: skip
    ax.set_yticks(np.arange(rows), names)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xlabel("test MSE / persistence MSE (left of 1.0: better than persistence)")
    ax.grid(axis="x", alpha=0.3)
    beats = sum(1 for _, value in ordered if value < 1)
    title = f"{beats} of {len(ordered)} stock(s) beat the persistence forecast on test"
    if left_out:
        title += f"\n(the {OVERVIEW_EACH_END} best and {OVERVIEW_EACH_END} worst shown)"
    ax.set_title(title)
    return fig
