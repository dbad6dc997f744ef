"""Event validation: the seed's literal events, our extended forms, and clear rejections."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_functions.errors import InvalidEventError
from lambda_functions.events import (
    MAX_CELLS,
    BaseEvent,
    ClearbucketsEvent,
    Grid,
    MinmseEvent,
    ParampredsEvent,
    PredmsesEvent,
    ProcessingEvent,
    TestfullEvent,
    TimingmetricsEvent,
    TrainfullEvent,
    parse_event,
)

STOCK = "KOTAKBANK"
BUCKET = "kotakbank-ds5110s3bucket"
RAW = f"{STOCK}_minute_data_with_indicators.csv"
STORE = "s3://groves-data/demo"

# The events exactly as SEED.md lists them ("Lambda Functions", Final).
SEED_EVENTS: dict[str, tuple[type[BaseEvent], dict[str, Any]]] = {
    "processing": (
        ProcessingEvent,
        {"inbucket": "ds5110s3", "outbucket": BUCKET, "file": RAW},
    ),
    "parampreds": (
        ParampredsEvent,
        {
            "bucket": BUCKET,
            "stock": STOCK,
            "feat": 5,
            "samp": 15,
            "n_estimators": 100,
            "pred_num": 0,
        },
    ),
    "predmses": (PredmsesEvent, {"bucket": BUCKET, "stock": STOCK}),
    "minmse": (MinmseEvent, {"bucket": BUCKET, "stock": STOCK}),
    "trainfull": (
        TrainfullEvent,
        {"bucket": BUCKET, "stock": STOCK, "n_estimators": 25, "pred_num": 0},
    ),
    "testfull": (TestfullEvent, {"bucket": BUCKET, "stock": STOCK}),
    "timingmetrics": (TimingmetricsEvent, {}),
    # The seed sends {} here; we require an explicit confirmation (see the test below).
    "clearbuckets": (ClearbucketsEvent, {"confirm": True}),
}

EXTENDED_EVENTS: dict[str, tuple[type[BaseEvent], dict[str, Any]]] = {
    "processing": (
        ProcessingEvent,
        {
            "store": STORE,
            "run_id": "r1",
            "stock": "M&M",
            "split": "random",
            "table_format": "csv",
            "attempt": 2,
            "invoked_at": 1.7e9,
        },
    ),
    "processing-file": (ProcessingEvent, {"store": STORE, "file": RAW}),
    "parampreds": (
        ParampredsEvent,
        {
            "store": STORE,
            "run_id": "r1",
            "stock": "TCS",
            "feat": 9,
            "samp": 25,
            "n_estimators": 10,
            "pred_num": 999,
            "seed": 7,
            "n_jobs": 1,
            "input_id": "etag-1",
        },
    ),
    "parampreds-indicators": (
        ParampredsEvent,
        {
            "store": STORE,
            "stock": "TCS",
            "feat": 23,
            "samp": 2,
            "pred_num": 0,
            "features": "indicators",
        },
    ),
    "parampreds-level": (
        ParampredsEvent,
        {"store": STORE, "stock": "TCS", "feat": 11, "samp": 5, "pred_num": 0, "target": "level"},
    ),
    "predmses-cell": (
        PredmsesEvent,
        {
            "store": STORE,
            "stock": "TCS",
            "feat": 5,
            "samp": 5,
            "grid": {"max_features": [5, 9], "min_samples_split": [5, 25]},
            "groves": 2,
        },
    ),
    "predmses-all": (
        PredmsesEvent,
        {"store": STORE, "stock": "TCS", "grid": {"max_features": [3]}, "groves": 1},
    ),
    "minmse": (
        MinmseEvent,
        {
            "store": STORE,
            "stock": "TCS",
            "features": "indicators",
            "indicators": ["RSI14", "MFI"],
            "grid": {"max_features": [12]},
        },
    ),
    "trainfull": (
        TrainfullEvent,
        {
            "store": STORE,
            "stock": "TCS",
            "pred_num": 3,
            "feat": 7,
            "samp": 15,
            "model_codec": "none",
        },
    ),
    "testfull": (TestfullEvent, {"store": STORE, "stock": "TCS", "groves": 3}),
    "timingmetrics": (TimingmetricsEvent, {"store": STORE, "run_id": "r1"}),
    "clearbuckets": (ClearbucketsEvent, {"store": STORE, "run_id": "r1", "confirm": True}),
    "clearbuckets-seed": (ClearbucketsEvent, {"confirm": True, "buckets": ["tcs-ds5110s3bucket"]}),
}


def rejects(model: type[BaseEvent], event: Any, *needles: str) -> str:
    """Assert ``event`` fails with InvalidEventError whose message has every needle."""
    with pytest.raises(InvalidEventError) as info:
        parse_event(model, event)
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize("name", list(SEED_EVENTS))
def test_seed_literal_event_validates(name: str) -> None:
    model, event = SEED_EVENTS[name]
    parsed = parse_event(model, event)
    assert parsed.seed_mode
    assert parsed.fmt == "csv"  # the seed's files are CSV


def test_seed_events_resolve_as_the_seed_did() -> None:
    processing = parse_event(ProcessingEvent, SEED_EVENTS["processing"][1])
    assert processing.stock_name == STOCK
    grove = parse_event(ParampredsEvent, SEED_EVENTS["parampreds"][1])
    assert (grove.feat, grove.samp, grove.n_estimators, grove.pred_num) == (5, 15, 100, 0)
    assert grove.bucket == BUCKET and grove.stock == STOCK
    predmses = parse_event(PredmsesEvent, SEED_EVENTS["predmses"][1])
    assert predmses.cells == [(f, s) for f in (5, 7, 9) for s in (5, 15, 25)]
    assert predmses.groves == 3
    assert parse_event(TestfullEvent, SEED_EVENTS["testfull"][1]).groves == 30
    assert parse_event(TrainfullEvent, SEED_EVENTS["trainfull"][1]).feat is None


@pytest.mark.parametrize("name", list(EXTENDED_EVENTS))
def test_extended_event_validates(name: str) -> None:
    model, event = EXTENDED_EVENTS[name]
    parsed = parse_event(model, event)
    if "store" in event:
        assert not parsed.seed_mode
        assert parsed.fmt == event.get("table_format", "parquet")


def test_extended_values_are_kept() -> None:
    event = parse_event(ParampredsEvent, EXTENDED_EVENTS["parampreds"][1])
    assert (event.store, event.run_id, event.seed, event.n_jobs) == (STORE, "r1", 7, 1)
    cell = parse_event(PredmsesEvent, EXTENDED_EVENTS["predmses-cell"][1])
    assert cell.cells == [(5, 5)]
    assert cell.grid.cells == [(5, 5), (5, 25), (9, 5), (9, 25)]
    every = parse_event(
        PredmsesEvent, {**EXTENDED_EVENTS["predmses-cell"][1], "feat": None, "samp": None}
    )
    assert every.cells == every.grid.cells


def test_feature_counts() -> None:
    base = {"store": STORE, "stock": "TCS", "pred_num": 0, "samp": 5}
    assert parse_event(ParampredsEvent, {**base, "feat": 10}).n_features == 10
    assert parse_event(ParampredsEvent, {**base, "feat": 11, "target": "level"}).n_features == 11
    wide = parse_event(ParampredsEvent, {**base, "feat": 1, "features": "indicators"})
    assert wide.n_features == 23


def test_grid_is_sorted_and_deduplicated_checks() -> None:
    grid = Grid(max_features=(9, 5), min_samples_split=(25, 5))
    assert grid.max_features == (5, 9) and grid.min_samples_split == (5, 25)


def test_clearbuckets_seed_literal_needs_confirmation() -> None:
    """The seed's clearbuckets event is ``{}``; emptying buckets needs ``confirm``."""
    rejects(ClearbucketsEvent, {}, "confirm")
    rejects(ClearbucketsEvent, {"confirm": False}, "confirm")


# --------------------------------------------------------------------------- rejected


@pytest.mark.parametrize(
    ("model", "event", "field"),
    [
        (ParampredsEvent, {"bucket": BUCKET, "stock": STOCK, "samp": 5, "pred_num": 0}, "feat"),
        (ParampredsEvent, {"bucket": BUCKET, "stock": STOCK, "feat": 5, "pred_num": 0}, "samp"),
        (ParampredsEvent, {"bucket": BUCKET, "stock": STOCK, "feat": 5, "samp": 5}, "pred_num"),
        (ParampredsEvent, {"bucket": BUCKET, "feat": 5, "samp": 5, "pred_num": 0}, "stock"),
        (PredmsesEvent, {"bucket": BUCKET}, "stock"),
        (TrainfullEvent, {"bucket": BUCKET, "stock": STOCK}, "pred_num"),
        (TestfullEvent, {"store": STORE}, "stock"),
    ],
)
def test_missing_field_is_named(model: type[BaseEvent], event: dict[str, Any], field: str) -> None:
    rejects(model, event, f"{field}: Field required")


@pytest.mark.parametrize("name", ["parampreds", "predmses", "minmse", "trainfull", "testfull"])
def test_missing_location_is_explained(name: str) -> None:
    model, event = SEED_EVENTS[name]
    without_bucket = {k: v for k, v in event.items() if k != "bucket"}
    rejects(model, without_bucket, "missing location", "store", "bucket")


def test_processing_missing_fields() -> None:
    rejects(
        ProcessingEvent,
        {"inbucket": "ds5110s3", "outbucket": BUCKET},
        "inbucket",
        "outbucket",
        "file",
    )
    rejects(ProcessingEvent, {"store": STORE}, "stock")
    rejects(ProcessingEvent, {}, "missing location")


@pytest.mark.parametrize(
    ("model", "event", "field"),
    [
        (ParampredsEvent, {**SEED_EVENTS["parampreds"][1], "feats": 5}, "feats"),
        (PredmsesEvent, {"bucket": BUCKET, "stock": STOCK, "grove": 3}, "grove"),
        (ProcessingEvent, {**SEED_EVENTS["processing"][1], "bucket_name": "x"}, "bucket_name"),
        (TimingmetricsEvent, {"type": "timingmetrics"}, "type"),
        (ClearbucketsEvent, {"confirm": True, "everything": True}, "everything"),
        (
            PredmsesEvent,
            {"store": STORE, "stock": STOCK, "grid": {"max_feat": [5]}},
            "grid.max_feat",
        ),
    ],
)
def test_unknown_field_is_named(model: type[BaseEvent], event: dict[str, Any], field: str) -> None:
    rejects(model, event, f"{field}: unknown field")


@pytest.mark.parametrize(
    ("model", "changes", "needles"),
    [
        (ParampredsEvent, {"feat": "five"}, ("feat:",)),
        (ParampredsEvent, {"feat": 0}, ("feat:",)),
        (ParampredsEvent, {"samp": 1}, ("samp:",)),
        (ParampredsEvent, {"n_estimators": 0}, ("n_estimators:",)),
        (ParampredsEvent, {"n_estimators": -5}, ("n_estimators:",)),
        (ParampredsEvent, {"n_estimators": 10**6}, ("n_estimators:",)),
        (ParampredsEvent, {"pred_num": -1}, ("pred_num:",)),
        (ParampredsEvent, {"seed": -1}, ("seed:",)),
        (ParampredsEvent, {"split": "sideways"}, ("split:",)),
        (ParampredsEvent, {"table_format": "xlsx"}, ("table_format:",)),
        (ParampredsEvent, {"attempt": 0}, ("attempt:",)),
        (ParampredsEvent, {"n_jobs": 0}, ("n_jobs:", "not 0")),
        (TrainfullEvent, {"pred_num": 0, "model_codec": "gzip"}, ("model_codec:",)),
        (ParampredsEvent, {"n_jobs": -2}, ("n_jobs:",)),
        (ParampredsEvent, {"stock": "../x"}, ("stock:", "'..'")),
        (ParampredsEvent, {"stock": "NIFTY/50"}, ("stock:",)),
        (ParampredsEvent, {"stock": "NIFTY 50 "}, ("stock:", "trailing spaces")),
        (ParampredsEvent, {"stock": ""}, ("stock:", "empty")),
        (ParampredsEvent, {"bucket": "../etc"}, ("bucket:",)),
        (ParampredsEvent, {"feat": 11}, ("feat", "larger than the 10 features")),
        (ParampredsEvent, {"feat": 12, "target": "level"}, ("larger than the 11 features",)),
        (ParampredsEvent, {"run_id": "a/b"}, ("run_id:",)),
        (ParampredsEvent, {"indicators": ["RSI14"]}, ("indicators",)),
        (
            ParampredsEvent,
            {"features": "indicators", "indicators": ["close"]},
            ("indicators:", "close"),
        ),
    ],
)
def test_invalid_value_is_named(
    model: type[BaseEvent], changes: dict[str, Any], needles: tuple[str, ...]
) -> None:
    rejects(model, {**SEED_EVENTS["parampreds"][1], **changes}, *needles)


def test_feat_larger_than_feature_count_in_grid_and_trainfull() -> None:
    rejects(
        PredmsesEvent,
        {"bucket": BUCKET, "stock": STOCK, "grid": {"max_features": [5, 11]}},
        "larger than the 10 features",
    )
    rejects(
        MinmseEvent,
        {"bucket": BUCKET, "stock": STOCK, "grid": {"max_features": [99]}},
        "feat (max_features) 99",
    )
    rejects(
        TrainfullEvent,
        {"bucket": BUCKET, "stock": STOCK, "pred_num": 0, "feat": 11, "samp": 5},
        "larger than the 10 features",
    )


@pytest.mark.parametrize("model", [PredmsesEvent, MinmseEvent, TestfullEvent])
def test_groves_zero_is_rejected(model: type[BaseEvent]) -> None:
    rejects(model, {"bucket": BUCKET, "stock": STOCK, "groves": 0}, "groves:")


def test_oversized_grid_is_rejected() -> None:
    grid = {"max_features": list(range(1, 11)), "min_samples_split": list(range(2, 13))}
    assert len(grid["max_features"]) * len(grid["min_samples_split"]) > MAX_CELLS
    message = rejects(PredmsesEvent, {"store": STORE, "stock": STOCK, "grid": grid}, "grid")
    assert f"110 cells; at most {MAX_CELLS}" in message
    exactly = {"max_features": list(range(1, 11)), "min_samples_split": list(range(2, 12))}
    assert (
        len(parse_event(MinmseEvent, {"store": STORE, "stock": STOCK, "grid": exactly}).grid.cells)
        == MAX_CELLS
    )


@pytest.mark.parametrize(
    "grid",
    [
        {"max_features": []},
        {"max_features": [5, 5]},
        {"min_samples_split": [1]},
        {"max_features": [0]},
    ],
)
def test_bad_grid_is_rejected(grid: dict[str, Any]) -> None:
    rejects(MinmseEvent, {"store": STORE, "stock": STOCK, "grid": grid}, "grid.")


@pytest.mark.parametrize(
    ("model", "event", "needles"),
    [
        (ProcessingEvent, {"store": STORE, "stock": "../x"}, ("stock name", "'..'")),
        (
            ProcessingEvent,
            {
                "inbucket": "ds5110s3",
                "outbucket": BUCKET,
                "file": "../x_minute_data_with_indicators.csv",
            },
            ("'..'",),
        ),
        (
            ProcessingEvent,
            {"inbucket": "ds5110s3", "outbucket": BUCKET, "file": "x.csv"},
            ("does not follow the Kaggle naming",),
        ),
        (ProcessingEvent, {"inbucket": "../up", "outbucket": BUCKET, "file": RAW}, ("inbucket",)),
        (ProcessingEvent, {"store": STORE, "stock": "TCS", "file": RAW}, ("does not match",)),
        (
            ProcessingEvent,
            {"store": STORE, "inbucket": "ds5110s3", "outbucket": BUCKET, "file": RAW},
            ("not both",),
        ),
        (ParampredsEvent, {**SEED_EVENTS["parampreds"][1], "store": STORE}, ("not both",)),
        (PredmsesEvent, {"bucket": BUCKET, "stock": STOCK, "feat": 5}, ("'feat' and 'samp'",)),
        (
            TrainfullEvent,
            {"bucket": BUCKET, "stock": STOCK, "pred_num": 0, "samp": 5},
            ("'feat' and 'samp'",),
        ),
        (ClearbucketsEvent, {"confirm": True, "buckets": ["../x"]}, ("bucket",)),
    ],
)
def test_inconsistent_or_unsafe_events(
    model: type[BaseEvent], event: dict[str, Any], needles: tuple[str, ...]
) -> None:
    rejects(model, event, *needles)


@pytest.mark.parametrize("event", [None, [], "{}", 42])
def test_event_must_be_an_object(event: Any) -> None:
    rejects(ParampredsEvent, event, "must be a JSON object")


def test_errors_name_every_bad_field() -> None:
    message = rejects(
        ParampredsEvent,
        {"bucket": BUCKET, "stock": STOCK, "feat": 0, "samp": 1, "pred_num": 0, "oops": 1},
        "feat:",
        "samp:",
        "oops: unknown field",
    )
    assert message.startswith("invalid ParampredsEvent event: ")


def test_invalid_event_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_event(TestfullEvent, {"bucket": BUCKET})


# --------------------------------------------------------------------------- fingerprint


def _grove(**changes: Any) -> ParampredsEvent:
    base = {
        "store": STORE,
        "run_id": "r1",
        "stock": "TCS",
        "feat": 5,
        "samp": 5,
        "n_estimators": 10,
        "pred_num": 0,
    }
    return parse_event(ParampredsEvent, {**base, **changes})


def test_fingerprint_ignores_delivery_details() -> None:
    reference = _grove().fingerprint()
    assert len(reference) == 64
    assert _grove(attempt=3).fingerprint() == reference
    assert _grove(n_jobs=4).fingerprint() == reference
    assert _grove(invoked_at=1_700_000_000.5).fingerprint() == reference
    assert _grove(attempt=2, n_jobs=-1, invoked_at=1.0).fingerprint() == reference


@pytest.mark.parametrize(
    "changes",
    [
        {"seed": 1},
        {"input_id": "etag-2"},
        {"feat": 7},
        {"samp": 15},
        {"pred_num": 1},
        {"n_estimators": 11},
        {"stock": "INFY"},
        {"run_id": "r2"},
        {"split": "random"},
        {"target": "level"},
        {"table_format": "csv"},
        {"store": "s3://other/prefix"},
    ],
)
def test_fingerprint_changes_with_what_determines_outputs(changes: dict[str, Any]) -> None:
    assert _grove(**changes).fingerprint() != _grove().fingerprint()


def test_fingerprint_changes_with_the_grid() -> None:
    base = {"store": STORE, "stock": "TCS"}
    one = parse_event(PredmsesEvent, {**base, "grid": {"max_features": [5, 9]}})
    two = parse_event(PredmsesEvent, {**base, "grid": {"max_features": [5, 7]}})
    same = parse_event(PredmsesEvent, {**base, "grid": {"max_features": [9, 5]}, "attempt": 4})
    assert one.fingerprint() != two.fingerprint()
    assert one.fingerprint() == same.fingerprint()
    groves = parse_event(PredmsesEvent, {**base, "grid": {"max_features": [5, 9]}, "groves": 4})
    assert groves.fingerprint() != one.fingerprint()


def test_fingerprint_differs_between_functions() -> None:
    base = {"store": STORE, "stock": "TCS"}
    assert (
        parse_event(PredmsesEvent, base).fingerprint()
        != parse_event(MinmseEvent, base).fingerprint()
    )


# --------------------------------------------------------------------------- known bugs


@pytest.mark.parametrize(
    ("model", "event"),
    [
        (ClearbucketsEvent, {"bucket": "tcs-ds5110s3bucket", "confirm": True}),
        (TimingmetricsEvent, {"bucket": "tcs-ds5110s3bucket"}),
        (ProcessingEvent, {"bucket": "tcs-ds5110s3bucket", "store": STORE, "stock": "TCS"}),
    ],
)
def test_bucket_is_rejected_where_it_means_nothing(
    model: type[BaseEvent], event: dict[str, Any]
) -> None:
    rejects(model, event, "bucket")
