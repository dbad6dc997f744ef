"""What a run shows on its Prefect Artifacts tab: one markdown card per artifact, in order.

A card's description is what the tab shows (its first line; an image there shows inline)
and heads the artifact's page; its markdown is the rest of that page. Plots are linked by
`groves.reporting.links` (presigned on S3, embedded from a local store). The order:

1. the run summary;
2. the overview plot (test MSE / persistence per stock);
3. per stock (the first `UI_STOCK_PLOTS`), its forecast plot, then its grid search;
4. the timeline and distribution plots;
5. the tables: scores (every stock), timing, per-stage statistics, cost.

(`tasks.progress` adds the per-stage progress cards after these.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from groves.reporting.formatting import markdown_table, usd
from groves.reporting.links import browser_link, location
from groves.reporting.report import cost_rows, distribution_rows, stage_rows
from groves.reporting.summary import scores_rows, summary_headline, summary_markdown, timing_rows
from lambda_functions.storage import Storage

UI_STOCK_PLOTS = 10  # stocks whose forecast and grid plots get a card (all are in plots/)


@dataclass(frozen=True)
class Card:
    """One markdown artifact: its description (first line: what the tab shows) and data."""

    description: str
    markdown: str


def _expiry(expires: float | None) -> str:
    if expires is None:
        return ""
    when = dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f" The image link is presigned and expires {when}; the file stays in the run folder."


def plot_card(store: Storage, plot: Mapping[str, Any], details: str = "") -> Card:
    """A plot's card: the image (inline on the tab), its caption, then details and files."""
    if plot.get("error"):
        title = f"{plot['name']} plot" + (f" of {plot['stock']}" if plot.get("stock") else "")
        return Card(f"{title}: not made ({plot['error']})", f"**{title} failed**: {plot['error']}")
    link = browser_link(store, plot["png"])
    files = [f"`{location(store, plot['png'])}`"]
    if plot.get("svg"):
        files.append(f"`{location(store, plot['svg'])}`")
    description = f"![{plot['title']}]({link.url})\n\n{plot['caption']}"
    markdown = "\n\n".join(
        part
        for part in (
            f"### {plot['title']}",
            details,
            "Files: " + ", ".join(files) + "." + _expiry(link.expires),
        )
        if part
    )
    return Card(description, markdown)


def _stock_details(row: Mapping[str, Any] | None) -> str:
    return markdown_table(scores_rows([row], wide=True)) if row else ""


def _overview_details(summary: Mapping[str, Any]) -> str:
    ok = [s for s in summary["stocks"] if s.get("status") == "ok" and s.get("test_ratio")]
    rows = scores_rows(sorted(ok, key=lambda s: s["test_ratio"]))
    return markdown_table(rows) if rows else ""


def _report_tables(report: Mapping[str, Any]) -> list[Card]:
    cost = report["cost"]
    total = cost["lambda"]["total"]["total_usd"]
    vm = cost["vm"]
    ratio = cost.get("lambda_over_vm")
    cost_table = [
        {
            "item": row["item"],
            "invocations": row["invocations"],
            "billed s": row["billed s"],
            "GB-s": row["GB-s"],
            "compute": usd(row["compute $"]),
            "requests": usd(row["requests $"]),
            "S3 PUT": row["S3 PUT"],
            "S3 GET": row["S3 GET"],
            "S3": usd(row["S3 $"]),
            "total": usd(row["total $"]),
        }
        for row in cost_rows(report)
    ]
    headline = f"Cost estimate: Lambda {usd(total)} vs one {vm['name']} {usd(vm['total_usd'])}"
    headline += f" ({ratio:.2f}x)" if ratio else ""
    return [
        Card(
            "Per-stage statistics: makespan, busy time, peak concurrency, efficiency, stragglers",
            markdown_table(stage_rows(report)),
        ),
        Card(headline, f"Prices: {cost['prices']['as_of']}.\n\n" + markdown_table(cost_table)),
    ]


def run_cards(summary: Mapping[str, Any], store: Storage) -> list[Card]:
    """Every card of a finished run, in display order (see the module doc)."""
    plots = list(summary.get("plots") or [])
    rows = {s["stock"]: s for s in summary["stocks"]}
    report = summary["timing"].get("report") or {}
    cards = [Card(summary_headline(summary), summary_markdown(summary))]
    stock_plots = [p for p in plots if p.get("stock")]
    shown = list(dict.fromkeys(p["stock"] for p in stock_plots))[:UI_STOCK_PLOTS]
    for plot in plots:
        if plot["name"] == "overview":
            cards.append(plot_card(store, plot, _overview_details(summary)))
    for stock in shown:
        for plot in stock_plots:
            if plot["stock"] == stock:
                cards.append(plot_card(store, plot, _stock_details(rows.get(stock))))
    for plot in plots:
        if not plot.get("stock") and plot["name"] != "overview":
            details = ""
            if plot["name"] == "timeline" and report.get("stages"):
                details = markdown_table(stage_rows(report))
            elif plot["name"] == "distributions" and report.get("series"):
                details = markdown_table(distribution_rows(report))
            cards.append(plot_card(store, plot, details))
    every = scores_rows(summary["stocks"], wide=True)
    cards.append(
        Card(
            f"Scores of all {len(every)} stock(s): validation and test MSE vs persistence",
            markdown_table(every) if every else "_no stocks_",
        )
    )
    timing = [
        f"**{name}** ({what}), seconds:\n\n" + markdown_table(timing_rows(summary, name))
        for name, what in (
            ("actual", "measured wall time per stage"),
            ("sequential", "summed over invocations, as if one worker ran them all"),
        )
        if summary["timing"].get("tables", {}).get(name)
    ]
    cards.append(
        Card(
            "Timing per stage: invocation, computation, I/O (actual and sequential)",
            "\n\n".join(timing) or "_no timing tables_",
        )
    )
    if report and "error" not in report:
        cards += _report_tables(report)
    return cards
