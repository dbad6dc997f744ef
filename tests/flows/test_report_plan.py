"""The timing report and the planner on real runs: local executor and the Lambda path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from flows.pipeline import forecast_pipeline
from groves import planner
from groves.cli import app
from groves.lambda_endpoint import LocalLambdaEndpoint
from lambda_functions.storage import open_storage
from tests.flows.conftest import endpoint_env, small_config

pytestmark = pytest.mark.slow
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TOLERANCE = 0.15


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
        app, ["report", run_id, "--data", store_url], env={"COLUMNS": "200"}
    )
    assert printed.exit_code == 0, printed.output
    for title in ("per stage (measured)", "cost estimate", "lambda total", "c5.xlarge"):
        assert title in printed.output
    check_artifacts(run_id)
    return report


def check_artifacts(run_id: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    key = run_id.lower()
    wanted = [f"{key}-{name}" for name in ("stages", "cost", "distributions", "report")]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=wanted))
        )
    assert {a.key for a in found} == set(wanted)
    markdown = next(a for a in found if a.key == f"{key}-report")
    assert "timingmetrics/timeline.png" in str(markdown.data)


def check_self_projection(store_url: str, run_id: str, measured: float) -> None:
    profile = planner.profile_for_run(open_storage(store_url), run_id)
    for assign in ("own", "sampled"):
        projected = planner.plan(profile, assign=assign)["projected_makespan_s"]
        error = abs(projected - measured) / measured
        print(f"{run_id} {assign}: projected {projected:.3f} s, measured {measured:.3f} s")
        assert error <= TOLERANCE, f"{assign}: projected {projected:.2f} s vs {measured:.2f} s"
    bigger = CliRunner().invoke(
        app, ["plan", run_id, "--data", store_url, "--stocks", "99", "--concurrency", "1000"]
    )
    assert bigger.exit_code == 0, bigger.output
    assert "projected makespan" in bigger.output


def test_local_run_report_and_self_projection(local_store: str) -> None:
    summary = forecast_pipeline(small_config(store=local_store, run_id="planned"))
    report = check_report(local_store, "planned", summary)
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
    endpoint: LocalLambdaEndpoint, s3_store: str
) -> None:
    config = small_config(store=s3_store, executor="lambda", run_id="lambda-planned")
    summary = forecast_pipeline(config)
    report = check_report(s3_store, "lambda-planned", summary)
    assert report["cost"]["memory_mb"] is None  # billed at the receipts' memory: 3008 MB
    total = report["cost"]["lambda"]["total"]
    assert total["gb_s"] == pytest.approx(3008 / 1024 * total["billed_s"])
    check_self_projection(s3_store, "lambda-planned", report["total"]["makespan_s"])
