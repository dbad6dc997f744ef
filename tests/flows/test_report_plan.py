"""The timing report and the planner on real runs: local executor and the Lambda path."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from flows.pipeline import forecast_pipeline
from groves import planner
from groves.cli import app
from groves.lambda_endpoint import LocalLambdaEndpoint
from groves.reporting.gallery import write_stock_plots
from lambda_functions.layout import RunLayout
from lambda_functions.storage import open_storage
from tests.flows.conftest import endpoint_env, small_config
from tests.prefect_ui import artifacts_tab

pytestmark = pytest.mark.slow
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TOLERANCE = 0.15
SAMPLED_DRAWS = 10
EXPECTED_PROGRESS = {  # 2 stocks of the small config
    "processing": 2, "parampreds": 16, "predmses": 8, "minmse": 2, "trainfull": 6, "testfull": 2,
}  # fmt: skip


def check_report(store_url: str, run_id: str, summary: dict) -> dict:
    report = summary["timing"]["report"]
    assert "error" not in report, report
    assert report["receipts"] == 36  # 2 stocks x 18 invocations (small config)
    assert report["total"]["invocations"] == 36
    assert report["total"]["makespan_s"] <= summary["timing"]["wall_s"]
    assert report["cost"]["lambda"]["total"]["total_usd"] > 0
    store = open_storage(store_url)
    for name in ("distributions", "timeline"):
        assert store.get_bytes(report["files"][name]).startswith(PNG_SIGNATURE)
    assert store.exists(f"runs/{run_id}/timingmetrics/cost.csv")
    printed = CliRunner().invoke(
        app, ["report", run_id, "--data", store_url], env={"COLUMNS": "80"}
    )
    assert printed.exit_code == 0, printed.output
    assert "…" not in printed.output
    for title in ("per stage (measured)", "cost estimate", "lambda total", "c5.xlarge"):
        assert title in printed.output
    check_plots(store, summary)
    return report


def check_plots(store: Any, summary: dict) -> None:
    """summary.json lists every plot, in display order; each is a valid PNG. The stocks'
    plots (drawn by the plot pool while the run went on) are byte for byte what drawing
    them in this process gives."""
    names = [(p["name"], p["stock"]) for p in summary["plots"]]
    assert names == [
        ("overview", None),
        *((kind, stock) for stock in ("RELIANCE", "TCS") for kind in ("forecast", "grid")),
        ("timeline", None),
        ("distributions", None),
    ]
    for plot in summary["plots"]:
        assert store.get_bytes(plot["png"]).startswith(PNG_SIGNATURE), plot
    ahead = {p["png"]: store.get_bytes(p["png"]) for p in summary["plots"] if p["stock"]}
    layout = RunLayout(summary["run_id"])
    again = [e for row in summary["stocks"] for e in write_stock_plots(store, layout, row)]
    assert again == [p for p in summary["plots"] if p["stock"]]
    assert {key: store.get_bytes(key) for key in ahead} == ahead
    saved = json.loads(store.get_bytes(f"runs/{summary['run_id']}/summary.json"))
    assert saved["plots"] == summary["plots"]


def image_bytes(url: str) -> bytes:
    """What a browser gets for an image URL: a data: URI's bytes, or an HTTP GET's body."""
    if url.startswith("data:"):
        return base64.b64decode(url.split(",", 1)[1])
    with urllib.request.urlopen(url, timeout=30) as reply:
        return reply.read()


def check_artifacts(api_url: str, flow_run_id: Any, summary: dict) -> None:
    """The Artifacts tab: the summary first, then every plot inline (an image the browser
    can load on the description's first line), the tables, the progress of each stage."""
    shown = artifacts_tab(api_url, flow_run_id)
    firsts = [a["description"].splitlines()[0] for a in shown]
    assert firsts[0].startswith(f"groves run {summary['run_id']}: 2 of 2 stock(s) completed")
    plots = len(summary["plots"])  # overview, 2 x (forecast, grid), timeline, distributions
    images = [re.fullmatch(r"!\[(.*)\]\((\S+)\)", line) for line in firsts[1 : 1 + plots]]
    assert [m.group(1) if m else None for m in images] == [p["title"] for p in summary["plots"]]
    for match in images:
        assert match and image_bytes(match.group(2)).startswith(PNG_SIGNATURE)
    tables = firsts[1 + plots : 5 + plots]
    assert tables[0].startswith("Scores of all 2 stock(s)")
    assert tables[1].startswith("Timing per stage")
    assert tables[2].startswith("Per-stage statistics")
    assert tables[3].startswith("Cost estimate: Lambda $")
    assert firsts[5 + plots :] == [f"{stage}: {n} of {n} invocations, done"
                                   for stage, n in EXPECTED_PROGRESS.items()]  # fmt: skip
    assert len(shown) == 18 and {a["type"] for a in shown} == {"markdown"}


def check_self_projection(store_url: str, run_id: str, measured: float) -> None:
    """``own`` replays the run (its times and pacing): the measured makespan. ``sampled``
    shuffles which invocation takes which measured time and paces every stock by the
    medians: one draw of 2 stocks may land far off, the mean of draws must not."""
    profile = planner.profile_for_run(open_storage(store_url), run_id)
    own = planner.plan(profile, assign="own")["projected_makespan_s"]
    draws = [planner.plan(profile, assign="sampled", seed=k)["projected_makespan_s"]
             for k in range(SAMPLED_DRAWS)]  # fmt: skip
    sampled = sum(draws) / len(draws)
    print(f"{run_id}: measured {measured:.3f} s, own {own:.3f} s, sampled mean {sampled:.3f} s")
    assert own == pytest.approx(measured, rel=0.01)
    assert abs(sampled - measured) / measured <= TOLERANCE, draws
    bigger = CliRunner().invoke(
        app, ["plan", run_id, "--data", store_url, "--stocks", "99", "--concurrency", "1000"]
    )
    assert bigger.exit_code == 0, bigger.output
    assert "projected makespan" in bigger.output


def run_flow(config: Any) -> tuple[Any, dict]:
    """Run the pipeline; its flow run id and summary."""
    state = forecast_pipeline(config, return_state=True)
    return state.state_details.flow_run_id, state.result()


def test_local_run_report_and_self_projection(local_store: str, prefect_api: str) -> None:
    flow_run_id, summary = run_flow(small_config(store=local_store, run_id="planned", plots=True))
    report = check_report(local_store, "planned", summary)
    check_artifacts(prefect_api, flow_run_id, summary)
    assert report["workers"] == 2
    assert report["total"]["peak_concurrency"] <= 2
    check_self_projection(local_store, "planned", report["total"]["makespan_s"])


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalLambdaEndpoint]:
    server = LocalLambdaEndpoint(concurrency=4, env=endpoint_env(moto_server))
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", server.url)
    try:
        yield server
    finally:
        server.stop()


def test_lambda_path_report_and_self_projection(
    endpoint: LocalLambdaEndpoint, s3_store: str, prefect_api: str
) -> None:
    config = small_config(store=s3_store, executor="lambda", run_id="lambda-planned", plots=True)
    flow_run_id, summary = run_flow(config)
    report = check_report(s3_store, "lambda-planned", summary)
    check_artifacts(prefect_api, flow_run_id, summary)  # presigned URLs on the moto server
    assert report["cost"]["memory_mb"] is None  # billed at the receipts' memory: 3008 MB
    total = report["cost"]["lambda"]["total"]
    assert total["gb_s"] == pytest.approx(3008 / 1024 * total["billed_s"])
    check_self_projection(s3_store, "lambda-planned", report["total"]["makespan_s"])
