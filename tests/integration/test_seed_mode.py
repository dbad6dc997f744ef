"""Seed mode: the seed's literal events produce exactly the seed's bucket layout.

Buckets: ``ds5110s3`` (raw input, timing tables) and ``{stock}-ds5110s3bucket`` per stock,
on moto S3 and on a local folder (``GROVES_BUCKET_ROOT``, one subfolder per bucket). The
events are exactly SEED.md's, with small forests (grid groves of 5 trees, final groves of
3) to keep the run fast. Two differences from the seed are intended: clearbuckets needs
``{"confirm": true}``, and every invocation also writes a JSON receipt under ``receipts/``.
The seed's ``ds5110s3/runtimes/invoke_{type}.txt`` files came from its parent function (the
orchestrator), not from a worker, so no handler writes them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

from lambda_functions import (
    clearbuckets,
    minmse,
    parampreds,
    predmses,
    processing,
    testfull,
    timingmetrics,
    trainfull,
)
from lambda_functions.features import LAGS
from lambda_functions.stages import GRID
from lambda_functions.storage import BUCKET_ROOT_ENV, Storage, bucket_storage

STOCKS = ("RELIANCE", "TCS")
# moto answers each request in several ms and a stock's run makes ~1,200 of them, so S3
# runs one stock (the local folder runs both, covering several stock buckets).
STOCKS_BY_KIND = {"local": STOCKS, "s3": STOCKS[:1]}
MAIN = "ds5110s3"
SUFFIX = "-ds5110s3bucket"
FEATS = (5, 7, 9)
SAMPS = (5, 15, 25)
GRID_GROVES = 3
GRID_TREES = 5
FINAL_GROVES = 30
FINAL_TREES = 3
TIMING = ("actual", "fullparallel", "instancecompute", "instanceio", "sequential")
KINDS = ("local", "s3")
CASES = [(kind, stock) for kind in KINDS for stock in STOCKS_BY_KIND[kind]]


def bucket_of(stock: str) -> str:
    return f"{stock.lower()}{SUFFIX}"


def raw_name(stock: str) -> str:
    return f"{stock}_minute_data_with_indicators.csv"


def runtimes(directory: str, suffix: str = "", write: str = "startwrites3") -> set[str]:
    return {f"{directory}runtimes/{what}{suffix}.txt" for what in ("compute", "reads3", write)}


def expected_stock_keys(stock: str) -> set[str]:
    """The seed's "S3 Bucket File Structure" (Final) of one stock bucket."""
    keys = {f"processed/{split}/{stock}.csv" for split in ("testing", "training", "validation")}
    keys |= runtimes("processed/")
    for feat in FEATS:
        for samp in SAMPS:
            cell = f"models/params/feat{feat}_samp{samp}/"
            keys.add(f"{cell}mse.csv")
            keys |= runtimes(cell, write="writes3")  # predmses: the write duration
            for n in range(GRID_GROVES):
                keys.add(f"{cell}preds/preds_{n}.csv")
                keys |= runtimes(cell, f"_{n}")
    keys.add("models/optimized/best_params.csv")
    keys |= runtimes("models/optimized/")
    final = "models/optimized/models/"
    keys.add(f"{final}mse.csv")
    keys |= runtimes(final)
    for n in range(FINAL_GROVES):
        keys.add(f"{final}models/model_{n}.sav")
        keys.add(f"{final}preds/preds_{n}.csv")
        keys |= runtimes(final, f"_{n}")
    return keys


def expected_main_keys(stocks: tuple[str, ...]) -> set[str]:
    keys = {f"raw/{raw_name(s)}" for s in stocks}
    return keys | {f"timingmetrics/{name}timingmetrics.csv" for name in TIMING}


# --------------------------------------------------------------------------- the run


@dataclass
class SeedRun:
    kind: str
    stocks: tuple[str, ...]
    receipts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by function
    after_run: dict[str, dict[str, bytes]] = field(default_factory=dict)  # bucket -> key -> bytes
    after_clear: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def keys(self, bucket: str, *, receipts: bool = False) -> set[str]:
        keys = set(self.after_run[bucket])
        return keys if receipts else {k for k in keys if not k.startswith("receipts/")}


def skip_content(kind: str, key: str) -> bool:
    return key.endswith(".sav") or (kind == "s3" and key.endswith(".txt"))


def all_buckets(kind: str, root: Path | None) -> dict[str, dict[str, bytes]]:
    if kind == "local":
        assert root is not None
        names = sorted(p.name for p in root.iterdir() if p.is_dir())
    else:
        names = sorted(b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"])
    result = {}
    for name in names:
        store: Storage = bucket_storage(name)
        # Models are checked by key only (their content is covered by test_worker_chain);
        # so are S3's runtime .txt files (moto is slow per request; local reads them all).
        result[name] = {
            i.key: b"" if skip_content(kind, i.key) else store.get_bytes(i.key)
            for i in store.list()
        }
    return result


def run_seed_pipeline(kind: str, raw_dir: Path, root: Path | None) -> SeedRun:
    run = SeedRun(kind, STOCKS_BY_KIND[kind])

    def call(function: str, handler: Callable[..., dict[str, Any]], event: dict[str, Any]) -> None:
        receipt = handler(event, None)
        run.receipts.setdefault(function, []).append(receipt)

    main = bucket_storage(MAIN)
    for stock in run.stocks:
        main.put_bytes(f"raw/{raw_name(stock)}", (raw_dir / raw_name(stock)).read_bytes())
    for stock in run.stocks:
        bucket = bucket_of(stock)
        call(
            "processing",
            processing.lambda_handler,
            {"inbucket": MAIN, "outbucket": bucket, "file": raw_name(stock)},
        )
        for feat in FEATS:
            for samp in SAMPS:
                for n in range(GRID_GROVES):
                    call(
                        "parampreds",
                        parampreds.lambda_handler,
                        {
                            "bucket": bucket,
                            "stock": stock,
                            "feat": feat,
                            "samp": samp,
                            "n_estimators": GRID_TREES,
                            "pred_num": n,
                        },
                    )
        call("predmses", predmses.lambda_handler, {"bucket": bucket, "stock": stock})
        call("minmse", minmse.lambda_handler, {"bucket": bucket, "stock": stock})
        for n in range(FINAL_GROVES):
            call(
                "trainfull",
                trainfull.lambda_handler,
                {"bucket": bucket, "stock": stock, "n_estimators": FINAL_TREES, "pred_num": n},
            )
        call("testfull", testfull.lambda_handler, {"bucket": bucket, "stock": stock})
    call("timingmetrics", timingmetrics.lambda_handler, {})
    run.after_run = all_buckets(kind, root)
    call("clearbuckets", clearbuckets.lambda_handler, {"confirm": True})
    run.after_clear = all_buckets(kind, root)
    return run


@pytest.fixture(scope="module")
def seed_runs(
    raw_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, SeedRun]]:
    """The seed pipeline on a local bucket root and on moto S3."""
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("buckets")
        mp.setenv(BUCKET_ROOT_ENV, str(root))
        # Only the input bucket exists up front: stock bucket folders appear on first write.
        (root / MAIN).mkdir()
        runs["local"] = run_seed_pipeline("local", raw_dir, root)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for name in (MAIN, *(bucket_of(s) for s in STOCKS_BY_KIND["s3"])):
            client.create_bucket(Bucket=name)
        runs["s3"] = run_seed_pipeline("s3", raw_dir, None)
    yield runs


@pytest.fixture(params=KINDS)
def seed_run(request: pytest.FixtureRequest, seed_runs: dict[str, SeedRun]) -> SeedRun:
    return seed_runs[request.param]


# --------------------------------------------------------------------------- layout


def test_buckets_are_the_seeds(seed_run: SeedRun) -> None:
    assert set(seed_run.after_run) == {MAIN, *(bucket_of(s) for s in seed_run.stocks)}


@pytest.mark.parametrize(("kind", "stock"), CASES)
def test_stock_bucket_has_exactly_the_seeds_keys(
    seed_runs: dict[str, SeedRun], kind: str, stock: str
) -> None:
    seed_run = seed_runs[kind]
    keys = seed_run.keys(bucket_of(stock))
    expected = expected_stock_keys(stock)
    assert len(expected) == 6 + 9 * (4 + 3 * 4) + 4 + 4 + 30 * 5
    assert keys - expected == set(), "unexpected keys"
    assert expected - keys == set(), "missing keys"


def test_main_bucket_has_exactly_the_seeds_keys(seed_run: SeedRun) -> None:
    assert seed_run.keys(MAIN) == expected_main_keys(seed_run.stocks)
    assert seed_run.keys(MAIN, receipts=True) - seed_run.keys(MAIN) == {
        "receipts/timingmetrics/timingmetrics.json"
    }


@pytest.mark.parametrize(("kind", "stock"), CASES)
def test_every_invocation_left_an_ok_receipt(
    seed_runs: dict[str, SeedRun], kind: str, stock: str
) -> None:
    bucket = seed_runs[kind].after_run[bucket_of(stock)]
    receipts = {k: json.loads(v) for k, v in bucket.items() if k.startswith("receipts/")}
    assert len(receipts) == 1 + 9 * GRID_GROVES + 1 + 1 + FINAL_GROVES + 1
    assert {r["status"] for r in receipts.values()} == {"ok"}
    assert {r["stock"] for r in receipts.values()} == {stock}
    assert receipts["receipts/processing/processing.json"]["event"]["file"] == raw_name(stock)
    assert "receipts/parampreds/feat7_samp15_g2.json" in receipts
    assert "receipts/trainfull/g29.json" in receipts


# --------------------------------------------------------------------------- contents


def header(data: bytes) -> list[str]:
    return data.split(b"\n", 1)[0].decode().split(",")


@pytest.mark.parametrize(("kind", "stock"), CASES)
def test_csv_tables_have_the_seeds_columns(
    seed_runs: dict[str, SeedRun], kind: str, stock: str
) -> None:
    bucket = seed_runs[kind].after_run[bucket_of(stock)]
    processed_columns = ["date", "TYPPRICE", *LAGS, "TYPPRICE_TARGET"]
    assert processed_columns[2:12] == [f"TYPPRICE_LAG_{k}" for k in range(1, 11)]
    for split in ("training", "validation", "testing"):
        data = bucket[f"processed/{split}/{stock}.csv"]
        assert header(data) == processed_columns
        frame = pd.read_csv(io.BytesIO(data))
        assert len(frame) > 200 and not frame.isna().any().any()
        assert frame["date"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:00\+05:30").all()
    for key, data in bucket.items():
        if "/preds/preds_" in key:
            assert header(data) == ["date", "TYPPRICE_TARGET"], key
        if key.startswith("models/params/") and key.endswith("/mse.csv"):
            assert header(data) == ["feat", "samp", "mse"], key
    assert header(bucket["models/optimized/best_params.csv"]) == ["feat", "samp", "mse"]
    assert header(bucket["models/optimized/models/mse.csv"])[0] == "mse"
    best = pd.read_csv(io.BytesIO(bucket["models/optimized/best_params.csv"]))
    scores = {
        (f, s): float(
            pd.read_csv(io.BytesIO(bucket[f"models/params/feat{f}_samp{s}/mse.csv"])).mse[0]
        )
        for f in FEATS
        for s in SAMPS
    }
    assert float(best.mse[0]) == min(scores.values())
    assert scores[(int(best.feat[0]), int(best.samp[0]))] == min(scores.values())


@pytest.mark.parametrize("stock", STOCKS_BY_KIND["local"])
def test_runtime_files_hold_numbers(seed_runs: dict[str, SeedRun], stock: str) -> None:
    seed_run = seed_runs["local"]
    bucket = seed_run.after_run[bucket_of(stock)]
    starts = [r["start"] for rs in seed_run.receipts.values() for r in rs]
    computes = {r["compute_ms"] for rs in seed_run.receipts.values() for r in rs}
    for key, data in bucket.items():
        if key.endswith(".txt"):
            value = float(data.decode())
            assert np.isfinite(value) and value >= 0, key
            if "startwrites3" in key:  # epoch milliseconds, like the original's
                assert (min(starts) - 1) * 1000 <= value <= (max(starts) + 600) * 1000, key
            else:  # durations in milliseconds: well below an epoch, and the receipts' ms
                assert value < 1e9, key
    # The compute files hold the receipts' compute_ms (the same measurement, in ms).
    compute = float(bucket["processed/runtimes/compute.txt"].decode())
    assert any(abs(compute - ms) < 0.01 for ms in computes)


def test_timingmetrics_tables_in_the_main_bucket(seed_run: SeedRun) -> None:
    main = seed_run.after_run[MAIN]
    assert len(seed_run.receipts["parampreds"]) == len(seed_run.stocks) * 9 * GRID_GROVES
    for name in TIMING:
        table = pd.read_csv(io.BytesIO(main[f"timingmetrics/{name}timingmetrics.csv"]), index_col=0)
        assert list(table.index) == [*GRID.names, "total"]
        assert list(table.columns) == ["Invocation", "Computation", "I/O"]
        assert (table.to_numpy() >= 0).all()
    sequential = pd.read_csv(
        io.BytesIO(main["timingmetrics/sequentialtimingmetrics.csv"]), index_col=0
    )
    # Receipts of every stock bucket are combined.
    for stage in GRID.names:
        assert sequential.loc[stage, "Computation"] == pytest.approx(
            sum(r["compute_ms"] for r in seed_run.receipts[stage]), rel=1e-9
        )
    assert seed_run.receipts["timingmetrics"][0]["result"]["receipts"] == sum(
        len(seed_run.receipts[s]) for s in GRID.names
    )


def test_results_agree_between_storages(seed_runs: dict[str, SeedRun]) -> None:
    local, s3 = seed_runs["local"], seed_runs["s3"]
    for stock in s3.stocks:
        a, b = local.after_run[bucket_of(stock)], s3.after_run[bucket_of(stock)]
        assert set(a) == set(b)
        tables = [key for key in a if key.endswith(".csv")]  # not timings, receipts, models
        assert len(tables) == 3 + 9 * (1 + GRID_GROVES) + 1 + 1 + FINAL_GROVES
        for key in tables:
            assert a[key] == b[key], key


# --------------------------------------------------------------------------- clearbuckets


def test_clearbuckets_empties_stock_buckets_but_keeps_the_input(seed_run: SeedRun) -> None:
    for stock in seed_run.stocks:
        assert seed_run.after_clear.get(bucket_of(stock), {}) == {}
    main_after = seed_run.after_clear[MAIN]
    for stock in seed_run.stocks:
        key = f"raw/{raw_name(stock)}"
        assert main_after[key] == seed_run.after_run[MAIN][key]
    kept = seed_run.after_run[MAIN]
    for key, data in kept.items():
        assert main_after[key] == data, key
    assert set(main_after) - set(kept) == {"receipts/clearbuckets/clearbuckets.json"}
    deleted = seed_run.receipts["clearbuckets"][0]["result"]["deleted"]
    assert deleted == {bucket_of(s): len(seed_run.after_run[bucket_of(s)]) for s in seed_run.stocks}


# --------------------------------------------------------------------------- known bugs


def test_bucket_root_on_s3(s3: Any, raw_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed mode with every bucket emulated under ``s3://groves-test/buckets/``."""
    monkeypatch.setenv(BUCKET_ROOT_ENV, "s3://groves-test/buckets")
    s3.create_bucket(Bucket="decoy-ds5110s3bucket")  # a real bucket outside the root
    s3.put_object(Bucket="decoy-ds5110s3bucket", Key="keep.txt", Body=b"keep")
    stock = STOCKS[0]
    bucket_storage(MAIN).put_bytes(
        f"raw/{raw_name(stock)}", (raw_dir / raw_name(stock)).read_bytes()
    )
    processing.lambda_handler(
        {"inbucket": MAIN, "outbucket": bucket_of(stock), "file": raw_name(stock)}
    )
    emulated = bucket_storage(bucket_of(stock))
    assert emulated.url == f"s3://groves-test/buckets/{bucket_of(stock)}"
    assert emulated.exists(f"processed/training/{stock}.csv")
    receipt = timingmetrics.lambda_handler({})
    assert receipt["result"]["receipts"] == 1  # the processing receipt
    clearbuckets.lambda_handler({"confirm": True})
    assert emulated.keys() == []
    assert s3.get_object(Bucket="decoy-ds5110s3bucket", Key="keep.txt")["Body"].read() == b"keep"
