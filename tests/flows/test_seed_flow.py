"""The flow over the original layout (``layout="seed"``), end to end on a moto S3 server.

The workers get the original's literal events and write the original's tree: a main
bucket with ``raw/``, ``runtimes/invoke_{type}.txt`` and ``timingmetrics/``, a bucket per
stock; groves' own files (receipts, configuration, summary) under ``groves/`` in the main
bucket. Runtime files are in the original's units (ms, epoch ms). A rerun resumes (nothing
executes), the MSEs equal the run layout's for the same split, and ``groves clear`` empties
the outputs but never ``raw/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from flows.pipeline import forecast_pipeline
from groves.cli.manage import seed_clear_event
from lambda_functions import clearbuckets
from lambda_functions.errors import GrovesError
from lambda_functions.receipts import parse_receipt
from lambda_functions.stages import GRID
from lambda_functions.storage import S3Storage
from tests.conftest import STOCKS, raw_file_name
from tests.flows.conftest import small_config

pytestmark = pytest.mark.slow

FEATS, SAMPS, GROVES, FINAL = (5, 9), (5, 25), 2, 3
TIMING = ("actual", "fullparallel", "instancecompute", "instanceio", "sequential")


def runtime_files(folder: str, suffix: str = "", write: str = "startwrites3") -> set[str]:
    return {f"{folder}runtimes/{what}{suffix}.txt" for what in ("compute", "reads3", write)}


def stock_tree(stock: str) -> set[str]:
    """The original's tree of one stock bucket (SEED.md, with predmses' writes3.txt)."""
    keys = {f"processed/{s}/{stock}.csv" for s in ("training", "validation", "testing")}
    keys |= runtime_files("processed/")
    for f in FEATS:
        for s in SAMPS:
            cell = f"models/params/feat{f}_samp{s}/"
            keys |= {f"{cell}mse.csv", *runtime_files(cell, write="writes3")}
            for n in range(GROVES):
                keys |= {f"{cell}preds/preds_{n}.csv", *runtime_files(cell, f"_{n}")}
    keys |= {"models/optimized/best_params.csv", *runtime_files("models/optimized/")}
    final = "models/optimized/models/"
    keys |= {f"{final}mse.csv", *runtime_files(final)}
    for n in range(FINAL):
        keys |= {f"{final}models/model_{n}.sav", f"{final}preds/preds_{n}.csv"}
        keys |= runtime_files(final, f"_{n}")
    return keys


@dataclass
class Buckets:
    main: str
    pattern: str
    client: Any

    def stock(self, name: str) -> str:
        return self.pattern.replace("{stock}", name.lower())

    def keys(self, bucket: str, prefix: str = "") -> set[str]:
        return set(S3Storage(bucket).keys(prefix))

    def text(self, bucket: str, key: str) -> str:
        return S3Storage(bucket).get_text(key)


@pytest.fixture
def buckets(
    moto_server: str, raw_dir: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Buckets]:
    """A main bucket with the raw files and an empty bucket per stock, on the moto server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    tag = f"{abs(hash(request.node.name)) % 10**8}"
    made = Buckets(f"main-{tag}", "{stock}-" + tag + "-bucket", boto3.client("s3"))
    made.client.create_bucket(Bucket=made.main)
    for stock in STOCKS:
        made.client.create_bucket(Bucket=made.stock(stock))
        made.client.upload_file(
            str(raw_dir / raw_file_name(stock)), made.main, f"raw/{raw_file_name(stock)}"
        )
    yield made


def seed_config(buckets: Buckets, **changes: Any) -> Any:
    where = {"seed_bucket": buckets.main, "seed_bucket_pattern": buckets.pattern}
    return small_config(layout="seed", **{**where, **changes})


def test_seed_layout_run_resume_and_clear(buckets: Buckets, local_store: str) -> None:
    started = time.time()
    summary = forecast_pipeline(seed_config(buckets, split="random"))
    finished = time.time()
    assert summary["failed"] == {}
    assert summary["run_id"] == "seed"
    per_stock = GRID.invocations_per_stock(seed_config(buckets).shape)
    assert summary["executed"] == {k: len(STOCKS) * v for k, v in per_stock.items()}

    # Each stock bucket holds exactly the original's tree.
    for stock in STOCKS:
        assert buckets.keys(buckets.stock(stock)) == stock_tree(stock)
    # The main bucket: raw input, the parent's invoke files, the five tables, and groves/.
    main = buckets.keys(buckets.main)
    original = {k for k in main if not k.startswith("groves/")}
    assert original == {
        *(f"raw/{raw_file_name(s)}" for s in STOCKS),
        *(f"runtimes/invoke_{stage}.txt" for stage in GRID.names),
        *(f"timingmetrics/{name}timingmetrics.csv" for name in TIMING),
    }
    receipts = {k for k in main if k.startswith("groves/runs/seed/receipts/")}
    assert len(receipts) == sum(summary["executed"].values()) + 1  # + timingmetrics
    assert "groves/runs/seed/config.json" in main and "groves/runs/seed/summary.json" in main

    # Units: durations in ms, write starts in epoch ms, within the run.
    bucket = buckets.stock(STOCKS[0])
    start = float(buckets.text(bucket, "processed/runtimes/startwrites3.txt"))
    assert started * 1000 <= start <= finished * 1000
    receipt = parse_receipt(
        S3Storage(buckets.main).get_bytes(
            f"groves/runs/seed/receipts/processing/{STOCKS[0]}/processing.json"
        )
    )
    compute = float(buckets.text(bucket, "processed/runtimes/compute.txt"))
    assert compute == pytest.approx(receipt.compute_ms, abs=0.01)
    assert float(buckets.text(bucket, "processed/runtimes/reads3.txt")) == pytest.approx(
        receipt.read_ms, abs=0.01
    )
    writes3 = float(buckets.text(bucket, "models/params/feat5_samp5/runtimes/writes3.txt"))
    assert 0 < writes3 < 60_000  # a duration in ms, not an epoch
    invoke = {s: float(buckets.text(buckets.main, f"runtimes/invoke_{s}.txt")) for s in GRID.names}
    assert all(0 < ms < 60_000 for ms in invoke.values()), invoke
    # The tables: every stage and a total, in ms; the parent's invoke times in fullparallel.
    table = buckets.text(buckets.main, "timingmetrics/fullparalleltimingmetrics.csv").splitlines()
    assert table[0] == ",Invocation,Computation,I/O"
    assert [line.split(",")[0] for line in table[1:]] == [*GRID.names, "total"]
    rows = {line.split(",")[0]: [float(v) for v in line.split(",")[1:]] for line in table[1:]}
    for stage in GRID.names:
        assert rows[stage][0] == pytest.approx(invoke[stage])
    assert rows["total"][1] < (finished - started) * 1000  # computation in ms, not seconds

    # A rerun resumes: nothing executes, the same scores.
    again = forecast_pipeline(seed_config(buckets, split="random"))
    assert sum(again["executed"].values()) == 0
    assert again["stocks"] == summary["stocks"]
    # The run layout with the same split gives the same MSEs (CSV tables round-trip).
    same = forecast_pipeline(small_config(store=local_store, split="random", run_id="same"))
    for seed_row, run_row in zip(summary["stocks"], same["stocks"], strict=True):
        for key in ("validation_mse", "test_mse", "test_persistence_mse"):
            assert seed_row[key] == pytest.approx(run_row[key], rel=1e-9), key
        assert (seed_row["best_feat"], seed_row["best_samp"]) == (
            run_row["best_feat"],
            run_row["best_samp"],
        )

    # groves clear: outputs gone, raw/ kept, every stock bucket emptied.
    receipt_data = clearbuckets.lambda_handler(seed_clear_event(buckets.main, "seed"))
    assert receipt_data["status"] == "ok"
    for stock in STOCKS:
        assert buckets.keys(buckets.stock(stock)) == set()
    left = buckets.keys(buckets.main)
    assert {k for k in left if not k.startswith("groves/")} == {
        f"raw/{raw_file_name(s)}" for s in STOCKS
    }
    assert buckets.keys(buckets.main, "groves/runs/") == set()


def test_seed_layout_refuses_bad_bucket_names(buckets: Buckets) -> None:
    with pytest.raises(ValueError, match="valid S3 bucket name"):
        seed_config(buckets, seed_bucket="Not_A_Bucket")
    with pytest.raises(ValueError, match=r"\{stock\}"):
        seed_config(buckets, seed_bucket_pattern="no-stock-here")
    with pytest.raises(GrovesError, match="main bucket"):
        clearbuckets.lambda_handler(
            {"mainbucket": buckets.main, "buckets": [buckets.main], "confirm": True}
        )


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The project's own Lambda Invoke endpoint, its workers on the moto server's S3."""
    from groves.lambda_endpoint import LocalLambdaEndpoint
    from tests.flows.conftest import endpoint_env

    server = LocalLambdaEndpoint(concurrency=4, env=endpoint_env(moto_server))
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", server.url)
    try:
        yield server
    finally:
        server.stop()


def test_seed_layout_on_the_lambda_path_resumes_without_invoking(
    buckets: Buckets, endpoint: Any
) -> None:
    def executed() -> dict[str, int]:
        functions = endpoint.stats()["functions"]
        return {s: functions.get(s, {}).get("executed", 0) for s in GRID.names}

    config = seed_config(buckets, executor="lambda", stocks=(STOCKS[1],))
    summary = forecast_pipeline(config)
    assert summary["failed"] == {}
    per_stock = GRID.invocations_per_stock(config.shape)
    assert executed() == per_stock
    assert buckets.keys(buckets.stock(STOCKS[1])) == stock_tree(STOCKS[1])
    assert float(buckets.text(buckets.main, "runtimes/invoke_parampreds.txt")) > 0
    # The rerun invokes no stage worker at all (only the report is made again).
    again = forecast_pipeline(config)
    assert executed() == per_stock
    assert sum(again["executed"].values()) == 0
    assert again["stocks"] == summary["stocks"]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``cli(*args)``: the ``groves`` CLI in-process; returns (exit code, output)."""
    import os

    from typer.testing import CliRunner

    from groves.cli import app

    for name in (  # the CLI sets these defaults; restore them afterwards
        "PREFECT_LOGGING_LEVEL",
        "PREFECT_SERVER_ANALYTICS_ENABLED",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
    ):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    return invoke


def test_cli_seed_layout_on_bucket_folders(
    cli: Any, raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``groves run --layout seed`` over $GROVES_BUCKET_ROOT folders, then ``groves clear``."""
    import json

    root = tmp_path / "buckets"
    monkeypatch.setenv("GROVES_BUCKET_ROOT", str(root))
    stock = STOCKS[0]
    (root / "seedmain" / "raw").mkdir(parents=True)
    (root / "seedmain" / "raw" / raw_file_name(stock)).write_bytes(
        (raw_dir / raw_file_name(stock)).read_bytes()
    )
    small = ["--grid-feat", "5", "--grid-samp", "5", "--groves", "2", "--trees", "3"]
    small += ["--final-groves", "2", "--final-trees", "3", "--workers", "2"]
    where = ["--layout", "seed", "--seed-bucket", "seedmain"]
    where += ["--seed-bucket-pattern", "grv-{stock}-out"]
    code, output = cli("run", "--local", "--stocks", stock, *small, *where, "--json")
    assert code == 0, output
    summary = json.loads(output[output.index("{") :])
    assert summary["failed"] == {} and summary["run_id"] == "seed"
    bucket = root / f"grv-{stock.lower()}-out"
    assert (bucket / "models/optimized/models/mse.csv").is_file()
    assert (bucket / "models/params/feat5_samp5/runtimes/writes3.txt").is_file()
    assert (root / "seedmain/runtimes/invoke_trainfull.txt").is_file()
    assert (root / "seedmain/timingmetrics/actualtimingmetrics.csv").is_file()

    code, output = cli("clear", "seed", "--layout", "seed", "--seed-bucket", "seedmain", "--yes")
    assert code == 0, output
    assert f"in grv-{stock.lower()}-out" in output
    left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert [k for k in left if "/groves/" not in k] == [f"seedmain/raw/{raw_file_name(stock)}"]
    # A bad pattern is a one-line error before anything runs.
    code, output = cli("run", "--local", *where[:-1], "Bad_{stock}", "--stocks", stock)
    assert code == 1 and "does not give valid S3 bucket names" in " ".join(output.split())
