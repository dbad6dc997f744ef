"""One stock's whole chain, run by hand through the eight handlers, on both storages.

The chain (processing -> parampreds -> predmses -> minmse -> trainfull -> testfull ->
timingmetrics) runs once per storage in a module-scoped fixture; the tests then check the
numbers it produced, its receipts and its timing tables. Tests that need more invocations
(determinism, failures, ties, the random split, clearbuckets) use other run ids in the
same stores, so they never disturb the main run's outputs.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

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
from lambda_functions.errors import MissingOutputError
from lambda_functions.features import LAGS, PRICE, TARGET
from lambda_functions.forests import predict_levels
from lambda_functions.stages import GRID as GRID_PIPELINE
from lambda_functions.storage import LocalStorage, S3Storage, Storage, open_storage
from lambda_functions.tables import read_table

STOCK = "RELIANCE"
RUN = "main"
GRID = {"max_features": [5, 9], "min_samples_split": [5, 25]}
CELLS = [(f, s) for f in GRID["max_features"] for s in GRID["min_samples_split"]]
GRID_GROVES = 2
GRID_TREES = 10
FINAL_GROVES = 3
FINAL_TREES = 10
KINDS = ("local", "s3")
RAW_ROWS = 4 * 375
USABLE_ROWS = RAW_ROWS - len(LAGS) - 1  # lags need 10 earlier rows, the target one later
RECEIPT_FIELDS = (
    "function", "event", "attempt", "request_id", "cold_start", "start", "end", "read_ms",
    "compute_ms", "write_ms", "bytes_read", "bytes_written", "peak_rss_mb", "status", "error",
)  # fmt: skip
HANDLERS: dict[str, Callable[..., dict[str, Any]]] = {
    "processing": processing.lambda_handler,
    "parampreds": parampreds.lambda_handler,
    "predmses": predmses.lambda_handler,
    "minmse": minmse.lambda_handler,
    "trainfull": trainfull.lambda_handler,
    "testfull": testfull.lambda_handler,
    "timingmetrics": timingmetrics.lambda_handler,
    "clearbuckets": clearbuckets.lambda_handler,
}


def stock_key(relative: str, run: str = RUN) -> str:
    return f"runs/{run}/stocks/{STOCK}/{relative}"


def cell(feat: int, samp: int) -> str:
    return f"feat{feat}_samp{samp}"


# --------------------------------------------------------------------------- recording


@dataclass
class Call:
    """One handler invocation: its event, returned receipt and the keys it wrote, in order."""

    function: str
    event: dict[str, Any]
    receipt: dict[str, Any]
    writes: list[str]


@dataclass
class Chain:
    """The main run of one storage."""

    kind: str
    url: str
    calls: list[Call] = field(default_factory=list)
    per_cell_mse: dict[str, bytes] = field(default_factory=dict)  # predmses, one cell each
    snapshot: dict[str, bytes] = field(default_factory=dict)  # after timingmetrics

    @property
    def store(self) -> Storage:
        return open_storage(self.url)

    def table(self, key: str) -> pd.DataFrame:
        return read_table(self.store, key)

    def receipts(self, function: str) -> list[dict[str, Any]]:
        return [c.receipt for c in self.calls if c.function == function]


class WriteLog:
    """Records every put of every store (patched into both backends' ``put_bytes``)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    def install(self, mp: pytest.MonkeyPatch) -> None:
        entries = self.entries
        for cls in (LocalStorage, S3Storage):
            original = cls.put_bytes

            def recording(store: Storage, key: str, data: bytes, _orig: Any = original) -> None:
                _orig(store, key, data)
                entries.append((store.url, key))

            mp.setattr(cls, "put_bytes", recording)


def invoke(chain: Chain, log: WriteLog, function: str, event: dict[str, Any]) -> Call:
    """Run one handler, recording what it wrote to the chain's store."""
    mark = len(log.entries)
    receipt = HANDLERS[function](event, None)
    url = chain.store.url
    writes = [key for store_url, key in log.entries[mark:] if store_url == url]
    call = Call(function, event, receipt, writes)
    chain.calls.append(call)
    return call


def run_chain(kind: str, url: str, log: WriteLog) -> Chain:
    chain = Chain(kind, url)
    base = {"store": url, "run_id": RUN, "stock": STOCK}
    cells = {**base, "grid": GRID, "groves": GRID_GROVES}
    invoke(chain, log, "processing", base)
    for feat, samp in CELLS:
        for n in range(GRID_GROVES):
            invoke(
                chain,
                log,
                "parampreds",
                {**base, "feat": feat, "samp": samp, "n_estimators": GRID_TREES, "pred_num": n},
            )
    for feat, samp in CELLS:
        invoke(chain, log, "predmses", {**cells, "feat": feat, "samp": samp})
    chain.per_cell_mse = {
        cell(f, s): chain.store.get_bytes(stock_key(f"models/params/{cell(f, s)}/mse.csv"))
        for f, s in CELLS
    }
    invoke(chain, log, "predmses", cells)
    invoke(chain, log, "minmse", cells)
    for n in range(FINAL_GROVES):
        invoke(chain, log, "trainfull", {**base, "n_estimators": FINAL_TREES, "pred_num": n})
    invoke(chain, log, "testfull", {**base, "groves": FINAL_GROVES})
    invoke(chain, log, "timingmetrics", {"store": url, "run_id": RUN})
    store = chain.store
    chain.snapshot = {info.key: store.get_bytes(info.key) for info in store.list()}
    return chain


@pytest.fixture(scope="module")
def chains(
    make_store: Callable[[str, Path], Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Chain]]:
    """The main run on a local folder and on moto S3 (moto stays on for the module)."""
    with ExitStack() as stack, pytest.MonkeyPatch.context() as mp:
        log = WriteLog()
        log.install(mp)
        result = {}
        for kind in KINDS:
            url = stack.enter_context(make_store(kind, tmp_path_factory.mktemp(f"chain-{kind}")))
            result[kind] = run_chain(kind, url, log)
        yield result


@pytest.fixture(params=KINDS)
def chain(request: pytest.FixtureRequest, chains: dict[str, Chain]) -> Chain:
    return chains[request.param]


# --------------------------------------------------------------------------- processing


def test_processed_tables_have_lags_target_and_all_rows(chain: Chain) -> None:
    parts = {
        s: chain.table(stock_key(f"processed/{s}/{STOCK}.parquet"))
        for s in ("training", "validation", "testing")
    }
    assert {s: len(p) for s, p in parts.items()} == {
        "training": 952,
        "validation": 239,
        "testing": 298,
    }
    for part in parts.values():
        assert list(part.columns) == [PRICE, *LAGS, TARGET]
        assert part.index.name == "date"
        assert str(part.index.tz) == "Asia/Kolkata"
        assert not part.isna().any().any()
    whole = pd.concat(parts.values())
    assert len(whole) == USABLE_ROWS
    assert whole.index.is_monotonic_increasing and whole.index.is_unique
    # Lag k is the price k rows earlier; the target is the next row's price.
    prices = whole[PRICE].to_numpy()
    for k, lag in enumerate(LAGS, start=1):
        np.testing.assert_array_equal(whole[lag].to_numpy()[k:], prices[:-k])
    np.testing.assert_array_equal(whole[TARGET].to_numpy()[:-1], prices[1:])


def test_chronological_split_keeps_time_order(chain: Chain) -> None:
    train, valid, test = (
        chain.table(stock_key(f"processed/{s}/{STOCK}.parquet")).index
        for s in ("training", "validation", "testing")
    )
    assert train.max() < valid.min()
    assert valid.max() < test.min()


def test_random_split_interleaves(chain: Chain) -> None:
    run = "random-split"
    HANDLERS["processing"](
        {"store": chain.url, "run_id": run, "stock": STOCK, "split": "random"}, None
    )
    train, valid, test = (
        chain.table(stock_key(f"processed/{s}/{STOCK}.parquet", run))
        for s in ("training", "validation", "testing")
    )
    assert (len(train), len(valid), len(test)) == (953, 238, 298)
    assert valid.index.min() < train.index.max() and train.index.min() < valid.index.max()
    assert test.index.min() < train.index.max() and train.index.min() < test.index.max()
    assert test.index.min() < valid.index.max() and valid.index.min() < test.index.max()
    # Same rows as the chronological split, only distributed differently.
    chrono = pd.concat(
        chain.table(stock_key(f"processed/{s}/{STOCK}.parquet"))
        for s in ("training", "validation", "testing")
    )
    shuffled = pd.concat([train, valid, test]).sort_index()
    pd.testing.assert_frame_equal(shuffled, chrono, check_freq=False)


# --------------------------------------------------------------------------- grid search


def _cell_mse_from_predictions(chain: Chain, feat: int, samp: int) -> float:
    valid = chain.table(stock_key(f"processed/validation/{STOCK}.parquet"))
    preds = [
        chain.table(stock_key(f"models/params/{cell(feat, samp)}/preds/preds_{n}.parquet"))
        for n in range(GRID_GROVES)
    ]
    for p in preds:
        assert list(p.columns) == [TARGET]
        assert p.index.equals(valid.index)
    mean = np.mean([p[TARGET].to_numpy() for p in preds], axis=0)
    return float(np.mean((valid[TARGET].to_numpy() - mean) ** 2))


def test_predmses_equals_recomputation(chain: Chain) -> None:
    for feat, samp in CELLS:
        table = pd.read_csv(
            io.BytesIO(chain.snapshot[stock_key(f"models/params/{cell(feat, samp)}/mse.csv")])
        )
        assert list(table.columns) == ["feat", "samp", "mse"]
        assert (int(table.feat[0]), int(table.samp[0])) == (feat, samp)
        expected = _cell_mse_from_predictions(chain, feat, samp)
        assert math.isfinite(expected) and expected > 0
        assert float(table.mse[0]) == pytest.approx(expected, rel=1e-12)


def test_predmses_all_cells_form_equals_per_cell_form(chain: Chain) -> None:
    for feat, samp in CELLS:
        key = stock_key(f"models/params/{cell(feat, samp)}/mse.csv")
        assert chain.snapshot[key] == chain.per_cell_mse[cell(feat, samp)]
    every = chain.receipts("predmses")[-1]
    assert every["unit"] == "all"
    assert set(every["result"]["mse"]) == {cell(f, s) for f, s in CELLS}


def test_grove_predictions_differ_between_groves(chain: Chain) -> None:
    one, two = (
        chain.table(stock_key(f"models/params/feat5_samp5/preds/preds_{n}.parquet")) for n in (0, 1)
    )
    assert not np.array_equal(one[TARGET].to_numpy(), two[TARGET].to_numpy())


def test_minmse_picks_the_minimum(chain: Chain) -> None:
    scores = {
        (f, s): float(
            pd.read_csv(
                io.BytesIO(chain.snapshot[stock_key(f"models/params/{cell(f, s)}/mse.csv")])
            ).mse[0]
        )
        for f, s in CELLS
    }
    best = pd.read_csv(io.BytesIO(chain.snapshot[stock_key("models/optimized/best_params.csv")]))
    assert list(best.columns) == ["feat", "samp", "mse"] and len(best) == 1
    winner = min(scores, key=lambda c: (scores[c], c))
    assert (int(best.feat[0]), int(best.samp[0])) == winner
    assert float(best.mse[0]) == scores[winner]
    trainfull_result = chain.receipts("trainfull")[0]["result"]
    assert (trainfull_result["feat"], trainfull_result["samp"]) == winner


@pytest.mark.parametrize(
    ("scores", "winner"),
    [
        ({(5, 5): 1.0, (5, 25): 1.0, (9, 5): 1.0, (9, 25): 1.0}, (5, 5)),
        ({(5, 5): 2.0, (5, 25): 1.0, (9, 5): 1.0, (9, 25): 1.0}, (5, 25)),
        ({(5, 5): 2.0, (5, 25): 2.0, (9, 5): 0.5, (9, 25): 0.5}, (9, 5)),
        ({(5, 5): 2.0, (5, 25): 2.0, (9, 5): 3.0, (9, 25): 0.25}, (9, 25)),
    ],
)
def test_minmse_ties_go_to_smallest_feat_then_samp(
    chain: Chain, scores: dict[tuple[int, int], float], winner: tuple[int, int]
) -> None:
    run = "ties"
    store = chain.store
    for (feat, samp), value in scores.items():
        table = pd.DataFrame({"feat": [feat], "samp": [samp], "mse": [value]})
        store.put_text(
            stock_key(f"models/params/{cell(feat, samp)}/mse.csv", run), table.to_csv(index=False)
        )
    receipt = HANDLERS["minmse"](
        {"store": chain.url, "run_id": run, "stock": STOCK, "grid": GRID, "groves": GRID_GROVES},
        None,
    )
    best = pd.read_csv(
        io.BytesIO(store.get_bytes(stock_key("models/optimized/best_params.csv", run)))
    )
    assert (int(best.feat[0]), int(best.samp[0])) == winner
    assert float(best.mse[0]) == scores[winner]
    assert (receipt["result"]["feat"], receipt["result"]["samp"]) == winner


# --------------------------------------------------------------------------- final model


def test_testfull_scores_against_persistence(chain: Chain) -> None:
    table = pd.read_csv(io.BytesIO(chain.snapshot[stock_key("models/optimized/models/mse.csv")]))
    row = table.iloc[0]
    test = chain.table(stock_key(f"processed/testing/{STOCK}.parquet"))
    preds = [
        chain.table(stock_key(f"models/optimized/models/preds/preds_{n}.parquet"))
        for n in range(FINAL_GROVES)
    ]
    mean = np.mean([p[TARGET].to_numpy() for p in preds], axis=0)
    actual = test[TARGET].to_numpy()
    expected_mse = float(np.mean((actual - mean) ** 2))
    persistence = float(np.mean((actual - test[PRICE].to_numpy()) ** 2))
    assert math.isfinite(row.mse) and math.isfinite(row.persistence_mse)
    assert row.mse > 0 and row.persistence_mse > 0
    assert row.mse == pytest.approx(expected_mse, rel=1e-12)
    assert row.persistence_mse == pytest.approx(persistence, rel=1e-12)
    assert row.ratio == pytest.approx(row.mse / row.persistence_mse, rel=1e-12)
    assert int(row.groves) == FINAL_GROVES and int(row.test_rows) == len(test)
    # A forest of relative changes should be in the persistence baseline's league.
    assert 0.5 < row.ratio < 1.5


def test_trainfull_model_checksum_and_predictions(chain: Chain) -> None:
    test = chain.table(stock_key(f"processed/testing/{STOCK}.parquet"))
    for n, receipt in enumerate(chain.receipts("trainfull")):
        model_key = stock_key(f"models/optimized/models/models/model_{n}.sav")
        blob = chain.snapshot[model_key]
        assert receipt["outputs"] == {model_key: hashlib.sha256(blob).hexdigest()}
        assert receipt["result"]["model_sha256"] == hashlib.sha256(blob).hexdigest()
        model = joblib.load(io.BytesIO(blob))
        assert model.n_estimators == FINAL_TREES
        assert (model.max_features, model.min_samples_split) == (
            receipt["result"]["feat"],
            receipt["result"]["samp"],
        )
        preds = predict_levels(model, test, target="change", indicators=())
        stored = chain.table(stock_key(f"models/optimized/models/preds/preds_{n}.parquet"))
        np.testing.assert_allclose(
            preds[TARGET].to_numpy(), stored[TARGET].to_numpy(), rtol=0, atol=1e-9
        )


MAGIC = {"lz4": b"\x04\x22\x4d\x18", "zlib": b"\x78", "none": b"\x80"}  # frame / stream / pickle


@pytest.mark.parametrize("codec", sorted(MAGIC))
def test_trainfull_saves_with_each_model_codec(
    codec: str, chains: dict[str, Chain], tmp_path: Path
) -> None:
    """Every codec saves the same grove: it loads (checked against the receipt's SHA-256)
    and predicts exactly what the default run stored."""
    from lambda_functions.models import load_model

    source = chains["local"]
    copy = LocalStorage(tmp_path / "store")
    for key, data in source.snapshot.items():
        copy.put_bytes(key, data)
    receipt = HANDLERS["trainfull"](
        {"store": copy.url, "run_id": RUN, "stock": STOCK, "n_estimators": FINAL_TREES,
         "pred_num": 0, "model_codec": codec},
        None,
    )  # fmt: skip
    key = stock_key("models/optimized/models/models/model_0.sav")
    blob = copy.get_bytes(key)
    assert blob.startswith(MAGIC[codec])
    model = load_model(copy, key, receipt["outputs"][key])
    test = source.table(stock_key(f"processed/testing/{STOCK}.parquet"))
    stored = source.table(stock_key("models/optimized/models/preds/preds_0.parquet"))
    preds = predict_levels(model, test, target="change", indicators=())
    np.testing.assert_array_equal(preds[TARGET].to_numpy(), stored[TARGET].to_numpy())
    if codec == "none":
        assert len(blob) > len(source.snapshot[key])  # the default (lz4) saves bytes


def test_trainfull_is_identical_on_both_storages(chains: dict[str, Chain]) -> None:
    local, s3 = chains["local"], chains["s3"]
    # The same values; not the same bytes, as each store has its Parquet codec.
    for relative in [
        *(f"models/optimized/models/preds/preds_{n}.parquet" for n in range(FINAL_GROVES)),
        *(f"processed/{s}/{STOCK}.parquet" for s in ("training", "validation", "testing")),
    ]:
        key = stock_key(relative)
        pd.testing.assert_frame_equal(local.table(key), s3.table(key), check_exact=True)


def test_same_parampreds_event_gives_identical_bytes(chain: Chain) -> None:
    event = {
        "store": chain.url,
        "run_id": RUN,
        "stock": STOCK,
        "feat": 9,
        "samp": 25,
        "n_estimators": GRID_TREES,
        "pred_num": 1,
    }
    key = stock_key("models/params/feat9_samp25/preds/preds_1.parquet")
    first = chain.snapshot[key]
    again = HANDLERS["parampreds"](event, None)
    assert chain.store.get_bytes(key) == first
    assert (
        again["result"]["random_state"]
        == next(
            c.receipt
            for c in chain.calls
            if c.function == "parampreds"
            and c.event.get("pred_num") == 1
            and (c.event["feat"], c.event["samp"]) == (9, 25)
        )["result"]["random_state"]
    )
    # A retry (new attempt, other n_jobs) is the same invocation: same bytes again.
    HANDLERS["parampreds"]({**event, "attempt": 2, "n_jobs": 2}, None)
    assert chain.store.get_bytes(key) == first


# --------------------------------------------------------------------------- receipts


def receipt_key(call: Call) -> str:
    function = call.function
    if function in ("timingmetrics", "clearbuckets"):
        return f"runs/{RUN}/receipts/{function}/_run/{function}.json"
    unit = {
        "parampreds": lambda e: f"{cell(e.get('feat', 0), e.get('samp', 0))}_g{e.get('pred_num')}",
        "predmses": lambda e: cell(e["feat"], e["samp"]) if "feat" in e else "all",
        "trainfull": lambda e: f"g{e.get('pred_num')}",
    }.get(function, lambda e: function)(call.event)
    return f"runs/{RUN}/receipts/{function}/{STOCK}/{unit}.json"


def test_every_invocation_has_an_ok_receipt(chain: Chain) -> None:
    expected_count = 1 + len(CELLS) * GRID_GROVES + len(CELLS) + 1 + 1 + FINAL_GROVES + 1 + 1
    assert len(chain.calls) == expected_count
    keys = {receipt_key(c) for c in chain.calls}
    assert len(keys) == expected_count  # one receipt per invocation, none overwritten
    assert keys == {k for k in chain.snapshot if k.startswith(f"runs/{RUN}/receipts/")}
    request_ids = set()
    for call in chain.calls:
        stored = json.loads(chain.snapshot[receipt_key(call)])
        assert stored == json.loads(json.dumps(call.receipt, default=str))
        for name in RECEIPT_FIELDS:
            assert name in stored, (call.function, name)
        assert stored["function"] == call.function
        assert stored["status"] == "ok" and stored["error"] is None
        assert stored["attempt"] == 1
        assert isinstance(stored["cold_start"], bool)
        assert stored["start"] <= stored["end"]
        for name in ("read_ms", "compute_ms", "write_ms", "peak_rss_mb"):
            assert stored[name] >= 0, (call.function, name)
        assert stored["peak_rss_mb"] > 0
        assert stored["bytes_read"] > 0, call.function
        assert stored["bytes_written"] > 0, call.function
        for name, value in call.event.items():
            assert stored["event"][name] == value, (call.function, name)
        request_ids.add(stored["request_id"])
    assert len(request_ids) == len(chain.calls)


def test_receipt_is_written_last(chain: Chain) -> None:
    for call in chain.calls:
        key = receipt_key(call)
        assert call.writes, call.function
        assert call.writes[-1] == key, (call.function, call.writes)
        assert call.writes.count(key) == 1
        assert len(call.writes) >= 2  # outputs first, then the receipt


def test_outputs_are_where_the_layout_says(chain: Chain) -> None:
    outputs = {c.function: set(c.writes[:-1]) for c in reversed(chain.calls)}  # first calls
    every_cell = next(c for c in chain.calls if c.function == "predmses" and "feat" not in c.event)
    outputs["predmses"] = set(every_cell.writes[:-1])
    assert outputs["processing"] == {
        stock_key(f"processed/{s}/{STOCK}.parquet") for s in ("training", "validation", "testing")
    }
    assert outputs["predmses"] == {
        stock_key(f"models/params/{cell(f, s)}/mse.csv") for f, s in CELLS
    }
    assert outputs["minmse"] == {stock_key("models/optimized/best_params.csv")}
    assert outputs["trainfull"] == {
        stock_key("models/optimized/models/models/model_0.sav"),
        stock_key("models/optimized/models/preds/preds_0.parquet"),
    }
    assert outputs["testfull"] == {stock_key("models/optimized/models/mse.csv")}
    # Default mode writes no seed runtimes/*.txt files: receipts carry the timings.
    assert not [k for k in chain.snapshot if k.endswith(".txt")]


def test_failing_handler_writes_an_error_receipt_then_raises(chain: Chain) -> None:
    run = "broken"
    base = {"store": chain.url, "run_id": run, "stock": STOCK}
    HANDLERS["processing"](base, None)
    HANDLERS["parampreds"]({**base, "feat": 5, "samp": 5, "n_estimators": 3, "pred_num": 0}, None)
    event = {**base, "feat": 5, "samp": 5, "grid": GRID, "groves": GRID_GROVES}
    with pytest.raises(MissingOutputError, match="grove 1") as info:
        HANDLERS["predmses"](event, None)
    receipt = chain.store.get_json(f"runs/{run}/receipts/predmses/{STOCK}/feat5_samp5.json")
    assert receipt["status"] == "error"
    assert receipt["error_type"] == "MissingOutputError"
    assert "grove 1" in receipt["error"] and "preds_1" in receipt["error"]
    assert receipt["error"] == str(info.value)
    assert "traceback" in receipt
    assert not chain.store.exists(stock_key("models/params/feat5_samp5/mse.csv", run))


# --------------------------------------------------------------------------- timingmetrics

TIMING_FILES = ("actual", "fullparallel", "sequential", "instancecompute", "instanceio")


def timing_table(chain: Chain, name: str) -> pd.DataFrame:
    data = chain.snapshot[f"runs/{RUN}/timingmetrics/{name}timingmetrics.csv"]
    return pd.read_csv(io.BytesIO(data), index_col=0)


def test_timingmetrics_writes_the_five_tables(chain: Chain) -> None:
    written = {k for k in chain.snapshot if k.startswith(f"runs/{RUN}/timingmetrics/")}
    assert written == {f"runs/{RUN}/timingmetrics/{n}timingmetrics.csv" for n in TIMING_FILES}
    for name in TIMING_FILES:
        table = timing_table(chain, name)
        assert list(table.index) == [*GRID_PIPELINE.names, "total"]
        assert list(table.index) == [
            "processing",
            "parampreds",
            "predmses",
            "minmse",
            "trainfull",
            "testfull",
            "total",
        ]
        assert list(table.columns) == ["Invocation", "Computation", "I/O"]
        assert np.isfinite(table.to_numpy()).all() and (table.to_numpy() >= 0).all()
        assert (table.loc["processing"] > 0).any()


def test_sequential_and_fullparallel_match_the_receipts(chain: Chain) -> None:
    receipts = [
        json.loads(v)
        for k, v in chain.snapshot.items()
        if k.startswith(f"runs/{RUN}/receipts/") and "/timingmetrics/" not in k
    ]
    sequential = timing_table(chain, "sequential")
    parallel = timing_table(chain, "fullparallel")
    for stage in GRID_PIPELINE.names:
        rs = [r for r in receipts if r["function"] == stage]
        assert rs, stage
        assert sequential.loc[stage, "Computation"] == pytest.approx(
            sum(r["compute_ms"] for r in rs), rel=1e-9, abs=1e-9
        )
        assert sequential.loc[stage, "I/O"] == pytest.approx(
            sum(r["read_ms"] + r["write_ms"] for r in rs), rel=1e-9, abs=1e-9
        )
        assert parallel.loc[stage, "Computation"] == pytest.approx(
            max(r["compute_ms"] for r in rs), rel=1e-9, abs=1e-9
        )
    assert len([r for r in receipts if r["function"] == "parampreds"]) == len(CELLS) * 2
    assert sequential.loc["total"].to_numpy() == pytest.approx(
        sequential.loc[list(GRID_PIPELINE.names)].sum().to_numpy(), rel=1e-9
    )
    actual = timing_table(chain, "actual")
    for stage in GRID_PIPELINE.names:
        rs = [r for r in receipts if r["function"] == stage]
        makespan_ms = (max(r["end"] for r in rs) - min(r["start"] for r in rs)) * 1000
        assert actual.loc[stage].sum() == pytest.approx(makespan_ms, rel=1e-6, abs=1e-3)


# --------------------------------------------------------------------------- clearbuckets


def test_clearbuckets_deletes_the_run_but_never_raw(chain: Chain) -> None:
    store = chain.store
    doomed = "doomed"
    main_prefix = f"runs/{RUN}/"
    copied = 0
    for key, data in chain.snapshot.items():
        if key.startswith(main_prefix):
            store.put_bytes(f"runs/{doomed}/" + key[len(main_prefix) :], data)
            copied += 1
    before = {i.key: store.get_bytes(i.key) for i in store.list()}
    receipt = HANDLERS["clearbuckets"](
        {"store": chain.url, "run_id": doomed, "confirm": True}, None
    )
    assert receipt["status"] == "ok"
    assert receipt["result"] == {"deleted": copied, "prefix": f"runs/{doomed}/"}
    after = {i.key: store.get_bytes(i.key) for i in store.list()}
    # Nothing remains of the doomed run; the receipt of its clearing is beside the runs.
    assert [k for k in after if k.startswith(f"runs/{doomed}/")] == []
    cleared = f"receipts/clearbuckets/{doomed}.json"
    assert store.get_json(cleared)["result"]["prefix"] == f"runs/{doomed}/"
    untouched = {k: v for k, v in before.items() if not k.startswith(f"runs/{doomed}/")}
    assert {k: v for k, v in after.items() if not k.startswith(f"runs/{doomed}/")} == {
        **untouched,
        cleared: after[cleared],
    }
    assert [k for k in after if k.startswith("raw/")] == [
        "raw/RELIANCE_minute_data_with_indicators.csv",
        "raw/TCS_minute_data_with_indicators.csv",
    ]


def test_clearbuckets_needs_confirmation(chain: Chain) -> None:
    from lambda_functions.errors import InvalidEventError

    before = set(chain.store.keys())
    with pytest.raises(InvalidEventError, match="confirm"):
        HANDLERS["clearbuckets"]({"store": chain.url, "run_id": RUN}, None)
    assert set(chain.store.keys()) == before
