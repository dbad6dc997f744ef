"""A run as one self-contained HTML page (plots embedded, no scripts, no outside requests):
scores, the overview, per stock the forecast and grid-search plots, the timing plots and
tables, and the cost estimate. It opens in any browser and can be sent as one file.

The plots are the run's saved files (``summary.json`` lists them); a run saved before plots
existed, or a plot missing from the store, is rendered from the stored outputs instead.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from typing import Any

from groves.reporting.formatting import fixed, integer, significant, text, usd
from groves.reporting.gallery import TIMING_PLOTS
from groves.reporting.links import data_uri, location, media_type
from groves.reporting.outputs import load_forecast, load_grid
from groves.reporting.plots import figure_png, plot_distributions, plot_timeline
from groves.reporting.report import cost_rows, stage_rows
from groves.reporting.result_plots import plot_forecast, plot_grid, plot_overview
from groves.reporting.summary import run_folder, scores_rows, summary_headline, timing_rows
from lambda_functions.layout import RunLayout
from lambda_functions.storage import Storage

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1f24;
       margin: 0 auto; max-width: 1240px; padding: 24px; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { margin-top: 40px; border-bottom: 1px solid #ddd; }
nav a { margin-right: 14px; } .meta { color: #555; }
table { border-collapse: collapse; margin: 12px 0; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e4e4e4; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f5f7; }
figure { margin: 16px 0; } figure img { max-width: 100%; border: 1px solid #e4e4e4; }
figcaption { color: #555; font-size: 13px; } .failed { color: #b00020; }
.stock { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; align-items: start; }
@media (max-width: 900px) { .stock { grid-template-columns: 1fr; } }
"""


def _table(rows: Sequence[Mapping[str, Any]], formats: Mapping[str, Any] | None = None) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    formats = formats or {}
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(formats.get(c, text)(row.get(c)))}</td>" for c in columns)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(uri: str, title: str, caption: str) -> str:
    return (
        f'<figure><img src="{html.escape(uri)}" alt="{html.escape(title)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


class _Plots:
    """The run's plots as data URIs: the saved file (SVG where there is one), else rendered."""

    def __init__(self, store: Storage, summary: Mapping[str, Any], report: Mapping[str, Any]):
        self.store = store
        self.summary = summary
        self.report = report
        self.layout = RunLayout(summary["run_id"])
        self.saved = {
            (p["name"], p.get("stock")): p for p in summary.get("plots") or [] if p.get("png")
        }

    def uri(self, name: str, stock: str | None = None) -> tuple[str, str] | None:
        """(data URI, caption) of a plot, or None when the run has no data for it."""
        entry = self.saved.get((name, stock))
        if entry:
            for key in (entry.get("svg"), entry["png"]):
                if key and self.store.exists(key):
                    return data_uri(self.store.get_bytes(key), media_type(key)), entry["caption"]
        fig = self._render(name, stock)
        return (data_uri(figure_png(fig), "image/png"), "") if fig is not None else None

    def _render(self, name: str, stock: str | None) -> Any:
        rows = {s["stock"]: s for s in self.summary["stocks"]}
        if name == "overview":
            ratios = [(s, r["test_ratio"]) for s, r in rows.items() if r.get("test_ratio")]
            return plot_overview(ratios) if ratios else None
        if name == "forecast" and stock:
            data = load_forecast(self.store, self.layout, stock)
            return plot_forecast(data) if data else None
        if name == "grid" and stock:
            data = load_grid(self.store, self.layout, stock)
            row = rows.get(stock, {})
            return plot_grid(data, row.get("validation_persistence_mse")) if data else None
        if name in TIMING_PLOTS and self.report.get("series"):
            return (plot_timeline if name == "timeline" else plot_distributions)(self.report)
        return None


def render_html(store: Storage, summary: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """The HTML page of a run.

    Args:
        store: The run's store.
        summary: Its summary (`groves.reporting.stored.load_summary`).
        report: Its full timing report, with plot series (`stored.load_report`).
    """
    run_id = summary["run_id"]
    plots = _Plots(store, summary, report)
    folder, _ = run_folder(summary)
    ok = [s for s in summary["stocks"] if s.get("status") == "ok"]
    parts = [
        f"<h1>groves run <code>{html.escape(run_id)}</code></h1>",
        f"<p class='meta'>{html.escape(summary_headline(summary))} · "
        f"{html.escape(str(summary.get('executor')))} executor, "
        f"{html.escape(str(summary.get('pipeline', 'grid')))} pipeline · outputs in "
        f"<code>{html.escape(folder)}</code></p>",
        "<nav><a href='#scores'>Scores</a><a href='#stocks'>Stocks</a>"
        "<a href='#timing'>Timing</a><a href='#cost'>Cost</a></nav>",
        "<h2 id='scores'>Scores</h2>",
        "<p>Test MSE of the final model against the persistence forecast (the next minute's "
        "price equals this minute's): a ratio below 1 beats it.</p>",
        _table(scores_rows(summary["stocks"], wide=True)),
    ]
    for stock, message in (summary.get("failed") or {}).items():
        parts.append(f"<p class='failed'><b>{html.escape(stock)}</b> failed: "
                     f"{html.escape(message)}</p>")  # fmt: skip
    overview = plots.uri("overview")
    if overview:
        parts.append(_figure(overview[0], "Test MSE / persistence per stock", overview[1]))
    parts.append("<h2 id='stocks'>Stocks</h2>")
    for row in ok:
        stock = row["stock"]
        parts.append(f"<h3 id='stock-{html.escape(stock)}'>{html.escape(stock)}</h3>")
        figures = [
            _figure(found[0], f"{stock} {name}", found[1])
            for name in ("forecast", "grid")
            if (found := plots.uri(name, stock))
        ]
        parts.append(
            f"<div class='stock'>{''.join(figures)}</div>"
            if figures
            else "<p><em>no forecast or grid-search outputs stored for this stock</em></p>"
        )
    parts.append("<h2 id='timing'>Timing</h2>")
    for name, title in TIMING_PLOTS.items():
        found = plots.uri(name)
        if found:
            parts.append(_figure(found[0], title, found[1] or title))
    for name, what in (("actual", "measured"), ("sequential", "as if one worker ran it all")):
        rows = timing_rows(summary, name) if summary["timing"].get("tables") else []
        if rows:
            parts.append(f"<h3>{name} timing, seconds ({what})</h3>")
            parts.append(_table(rows, {k: fixed(2) for k in rows[0] if k != "stage"}))
    if report.get("stages"):
        parts.append("<h3>Per stage</h3>")
        parts.append(_table(stage_rows(report), {"invocations": integer}))
    if report.get("cost"):
        cost = report["cost"]
        parts.append("<h2 id='cost'>Cost estimate</h2>")
        memory = f"{cost['memory_mb']} MB" if cost.get("memory_mb") else "each receipt's memory"
        parts.append(f"<p>Prices: {html.escape(cost['prices']['as_of'])}; Lambda billed at "
                     f"{html.escape(memory)}.</p>")  # fmt: skip
        money = {k: usd for k in ("compute $", "requests $", "S3 $", "total $")}
        parts.append(_table(cost_rows(report), {**money, "GB-s": significant}))
        if cost.get("lambda_over_vm"):
            parts.append(f"<p>Lambda / one {html.escape(cost['vm']['name'])}: "
                         f"{cost['lambda_over_vm']:.2f}x</p>")  # fmt: skip
    made = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<p class='meta'>Made by <code>groves report --html</code> at {made} from "
                 f"<code>{html.escape(location(store, RunLayout(run_id).run_prefix()))}</code>"
                 "</p>")  # fmt: skip
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>groves run {html.escape(run_id)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>"
    )
