"""A run's plots as files: the result plots are rendered from the stored outputs into
``runs/{run}/plots/``; with the timing report's plots they make the run's plot list (in
``summary.json`` under ``plots``, in the order the UI and the HTML report show them).

A plot entry is a JSON-able dict: ``name`` (overview, forecast, grid, timeline,
distributions), ``stock`` (or None), ``title``, ``caption`` (one line: what it shows and
its headline numbers), ``png`` (its key) and ``svg`` (its key, or None); or, when a plot
could not be made, ``error`` instead of the keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from groves.reporting.outputs import load_forecast, load_grid
from groves.reporting.plots import figure_png, figure_svg
from groves.reporting.result_plots import plot_forecast, plot_grid, plot_overview
from lambda_functions.layout import RunLayout
from lambda_functions.storage import Storage

logger = logging.getLogger(__name__)

TIMING_PLOTS = {
    "timeline": "Invocation timeline",
    "distributions": "Compute and I/O time per invocation",
}


def _ok_stocks(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in summary["stocks"] if s.get("status") == "ok"]


def _save(
    store: Storage, layout: RunLayout, name: str, stock: str | None, fig: Any, svg: bool
) -> dict[str, Any]:
    png_key = layout.plot_key(f"{name}.png", stock)
    store.put_bytes(png_key, figure_png(fig))
    svg_key = None
    if svg:
        svg_key = layout.plot_key(f"{name}.svg", stock)
        store.put_bytes(svg_key, figure_svg(fig))
    return {"png": png_key, "svg": svg_key}


Entry = dict[str, Any]


def _attempt(
    entries: list[Entry], name: str, stock: str | None, make: Callable[[], Entry | None]
) -> None:
    """Add the entry ``make`` returns (none if it returns None); if it fails, log it and add
    an entry with its ``error`` instead: one bad plot must not cost the others."""
    try:
        entry = make()
    except Exception as exc:
        logger.exception("plot %s of %s failed", name, stock or "the run")
        entries.append({"name": name, "stock": stock, "error": f"{type(exc).__name__}: {exc}"})
        return
    if entry is not None:
        entries.append({"name": name, "stock": stock, **entry})


def write_overview(
    store: Storage, layout: RunLayout, stocks: Sequence[Mapping[str, Any]]
) -> list[Entry]:
    """Render the overview of every completed stock's test ratio (none if no stock has one)."""
    ratios = [(s["stock"], s["test_ratio"]) for s in stocks if s.get("test_ratio") is not None]

    def overview() -> Entry | None:
        if not ratios:
            return None
        beats = sum(1 for _, r in ratios if r < 1)
        return {
            "title": "Test MSE / persistence MSE per stock",
            "caption": f"{beats} of {len(ratios)} stock(s) beat persistence on the test period",
            **_save(store, layout, "overview", None, plot_overview(ratios), svg=True),
        }

    entries: list[Entry] = []
    _attempt(entries, "overview", None, overview)
    return entries


def write_stock_plots(store: Storage, layout: RunLayout, row: Mapping[str, Any]) -> list[Entry]:
    """Render a completed stock's forecast and grid-search plots (``row``: its entry in the
    summary, `groves.reporting.summary.stock_row`); a plot whose outputs the stock's
    pipeline does not make is left out."""
    stock = row["stock"]

    def forecast() -> Entry | None:
        data = load_forecast(store, layout, stock)
        if data is None:
            return None
        ratio = f" = {data.ratio:.3f} x persistence" if data.ratio is not None else ""
        return {
            "title": f"{stock}: test-period forecast",
            "caption": f"{stock}: actual vs predicted vs persistence over "
            f"{len(data.actual)} test minutes; MSE {data.mse:.4g}{ratio}",
            **_save(store, layout, "forecast", stock, plot_forecast(data), svg=False),
        }

    def grid() -> Entry | None:
        data = load_grid(store, layout, stock)
        if data is None:
            return None
        chosen = (row.get("best_feat"), row.get("best_samp"))
        chosen = chosen if None not in chosen else data.best
        fig = plot_grid(data, row.get("validation_persistence_mse"), chosen)  # type: ignore[arg-type]
        return {
            "title": f"{stock}: grid search",
            "caption": f"{stock}: validation MSE of {len(data.table)} grid cell(s); "
            f"chosen (max_features, min_samples_split) = {tuple(chosen)}",
            **_save(store, layout, "grid", stock, fig, svg=True),
        }

    entries: list[Entry] = []
    _attempt(entries, "forecast", stock, forecast)
    _attempt(entries, "grid", stock, grid)
    return entries


def write_result_plots(
    store: Storage,
    layout: RunLayout,
    summary: Mapping[str, Any],
    drawn: Mapping[str, Sequence[Entry]] | None = None,
) -> list[Entry]:
    """Render the overview and every completed stock's forecast and grid plots into the
    run's ``plots/`` folder; return their entries (a stock without such outputs gets none).

    ``drawn``: stocks whose plots were already rendered (`groves.reporting.plot_pool`),
    with their entries; they are not drawn again. A plot that fails is logged and listed
    with its ``error``; the others are still made.
    """
    stocks = _ok_stocks(summary)
    entries = write_overview(store, layout, stocks)
    for row in stocks:
        done = (drawn or {}).get(row["stock"])
        entries += [dict(e) for e in done] if done is not None else write_stock_plots(
            store, layout, row)  # fmt: skip
    return entries


def timing_plot_entries(report: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The timing report's plots (saved by `groves.reporting.report.write_report`)."""
    files = (report or {}).get("files") or {}
    total = (report or {}).get("total") or {}
    captions = {
        "timeline": f"{total.get('invocations', 0)} invocations, makespan "
        f"{total.get('makespan_s', 0):.2f} s, peak concurrency {total.get('peak_concurrency', 0)}",
        "distributions": "box plots of computation and I/O seconds per stage",
    }
    return [
        {"name": name, "stock": None, "title": title, "caption": captions[name],
         "png": files[name], "svg": None}
        for name, title in TIMING_PLOTS.items()
        if files.get(name)
    ]  # fmt: skip


def run_plots(
    result_plots: Sequence[Mapping[str, Any]], report: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """Every plot of a run in display order: the overview, per stock its forecast then its
    grid search, then the timing plots."""
    return [dict(entry) for entry in result_plots] + timing_plot_entries(report)
