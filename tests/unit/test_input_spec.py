"""The input description (issue 16): templates, long format, columns; how it reaches the
events and the run id, and that default runs keep their events, fingerprints and run ids."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from groves.config import RunConfig
from lambda_functions.errors import InvalidEventError, UnsafeNameError
from lambda_functions.events import ParampredsEvent, ProcessingEvent, parse_event
from lambda_functions.features import FeatureSpec
from lambda_functions.inputs import DEFAULT_FILES, InputSpec, identity
from lambda_functions.storage import ObjectInfo


def test_defaults_are_the_kaggle_layout() -> None:
    spec = InputSpec()
    assert spec.files == DEFAULT_FILES == "{series}_minute_data_with_indicators.csv"
    assert (spec.time_column, spec.value_column, spec.series_column) == ("date", "TYPPRICE", None)
    assert spec.is_default and not spec.long
    assert spec.file_key("NIFTY 50") == "raw/NIFTY 50_minute_data_with_indicators.csv"


@pytest.mark.parametrize(
    ("fields", "key", "series"),
    [
        ({}, "raw/NIFTY 50_minute_data_with_indicators.csv", "NIFTY 50"),
        ({}, "raw/RELIANCE_minute_data_with_indicators.csv.bak", None),
        ({}, "raw/sub/RELIANCE_minute_data_with_indicators.csv", None),
        ({"files": "{series}.csv"}, "raw/BTCUSDT.csv", "BTCUSDT"),
        ({"files": "{series}.csv"}, "raw/BTCUSDT.csv.gz", None),
        ({"files": "candles/{series}-1m.csv.gz"}, "raw/candles/ETH USDT-1m.csv.gz", "ETH USDT"),
        ({"files": "candles/{series}-1m.csv.gz"}, "raw/ETHUSDT-1m.csv.gz", None),
        ({"files": "{series}.parquet"}, "raw/a.b.parquet", "a.b"),
    ],
)
def test_template_matches_file_names(fields: dict[str, Any], key: str, series: str | None) -> None:
    assert InputSpec(**fields).series_of(key) == series


def test_template_refuses_unusable_names_in_file_names() -> None:
    with pytest.raises(UnsafeNameError, match=r"'\.\.'"):
        InputSpec(files="{series}.csv").series_of("raw/...csv")


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"files": "../x/{series}.csv"}, "'..'"),
        ({"files": "/abs/{series}.csv"}, "relative to raw/"),
        ({"files": "a\\{series}.csv"}, "relative to raw/"),
        ({"files": "{series}/{series}.csv"}, "once"),
        ({"files": "{stock}.csv"}, "only placeholder"),
        ({"files": "{series}/prices.csv"}, "in the file name itself"),
        ({"files": "prices.csv"}, "has no {series}"),
        ({"files": "{series}.csv", "series_column": "id"}, "drop series_column"),
        ({"time_column": "x", "value_column": "x"}, "must differ"),
        ({"value_column": ""}, "printable"),
        ({"time_format": "minutes"}, "time_format"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"filez": "x"}, "filez"),
    ],
)
def test_bad_descriptions_say_what_to_fix(fields: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        InputSpec(**fields)
    assert needle in str(info.value)


def test_long_format_listing_and_identity() -> None:
    spec = InputSpec(files="export/", series_column="unique_id")
    assert spec.long and spec.listing_prefix() == "raw/export/"
    with pytest.raises(ValueError, match="no file per series"):
        spec.file_key("A")
    one = ObjectInfo("raw/a.csv", 10, "e1", 0.0)
    two = ObjectInfo("raw/b.csv", 20, "e2", 0.0)
    assert identity([one]) == "10-e1"  # as before: size and ETag
    assert identity([one, two]).startswith("2files-")
    assert identity([one, two]) != identity([one, ObjectInfo("raw/b.csv", 20, "e3", 0.0)])


# --------------------------------------------------------------------------- events


BASE = {"store": "/s", "stock": "TCS", "feat": 3, "samp": 5, "pred_num": 0}


def test_events_carry_input_and_feature_options() -> None:
    event = parse_event(
        ParampredsEvent,
        {
            **BASE,
            "stock": "sensor #7",
            "lags": 4,
            "horizon": 5,
            "min_rows": 200,
            "input": {"files": "p.parquet", "series_column": "id", "value_column": "y"},
        },
    )
    assert event.feature_spec == FeatureSpec(value="y", lags=4, horizon=5, min_rows=200)
    assert event.feature_spec.lag_columns == ("y_LAG_1", "y_LAG_2", "y_LAG_3", "y_LAG_4")
    assert event.feature_spec.target == "y_TARGET"
    assert event.n_features == 4


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"lags": 0}, "lags:"),
        ({"horizon": 0}, "horizon:"),
        ({"min_rows": 5}, "min_rows:"),
        ({"lags": 2}, "larger than the 2 features"),
        ({"input": {"files": "x.csv"}}, "has no {series}"),
        ({"input": {"time_colum": "t"}}, "unknown field"),
    ],
)
def test_bad_feature_options_are_refused(changes: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidEventError) as info:
        parse_event(ParampredsEvent, {**BASE, **changes})
    assert needle in str(info.value)


def test_new_fields_at_defaults_leave_fingerprints_unchanged() -> None:
    plain = parse_event(ParampredsEvent, BASE)
    explicit = parse_event(
        ParampredsEvent,
        {**BASE, "lags": 10, "horizon": 1, "min_rows": 1000, "input": InputSpec().model_dump()},
    )
    assert plain.fingerprint() == explicit.fingerprint()
    for change in ({"lags": 9}, {"horizon": 2}, {"input": {"value_column": "close"}}):
        assert parse_event(ParampredsEvent, {**BASE, **change}).fingerprint() != plain.fingerprint()


def test_processing_file_follows_the_template() -> None:
    kaggle = parse_event(
        ProcessingEvent, {"store": "/s", "file": "NIFTY 50_minute_data_with_indicators.csv"}
    )
    assert kaggle.stock_name == "NIFTY 50"
    candles = parse_event(
        ProcessingEvent, {"store": "/s", "file": "ETHUSDT.csv", "input": {"files": "{series}.csv"}}
    )
    assert candles.stock_name == "ETHUSDT"
    with pytest.raises(InvalidEventError, match="does not follow the input's template"):
        parse_event(
            ProcessingEvent, {"store": "/s", "file": "../x.csv", "input": {"files": "{series}.csv"}}
        )
    with pytest.raises(InvalidEventError, match="long-format input has none"):
        parse_event(
            ProcessingEvent,
            {"store": "/s", "file": "a.csv", "input": {"files": "a.csv", "series_column": "id"}},
        )


# --------------------------------------------------------------------------- run config


def test_default_config_keeps_events_and_run_id() -> None:
    config = RunConfig(run_id=None)
    explicit = RunConfig(input=InputSpec(), lags=10, horizon=1, min_rows=1000)
    assert config.resolved_run_id == explicit.resolved_run_id
    assert set(config.event_base()) == {
        "store", "run_id", "seed", "split", "table_format", "features", "target", "n_jobs",
    }  # fmt: skip


def test_changed_input_changes_events_and_run_id() -> None:
    base = RunConfig()
    config = RunConfig(
        input=InputSpec(files="{series}.csv", time_column="open_time", value_column="close"),
        horizon=5,
    )
    assert config.resolved_run_id != base.resolved_run_id
    event = config.event_base()
    assert event["input"] == {
        "files": "{series}.csv",
        "time_column": "open_time",
        "value_column": "close",
    }
    assert event["horizon"] == 5 and "lags" not in event
    assert config.feature_spec == FeatureSpec(value="close", horizon=5)
    # The flow's parameters round-trip (Prefect passes the config as JSON).
    assert RunConfig.model_validate(config.model_dump(mode="json")) == config


def test_config_accepts_any_safe_series_name() -> None:
    assert RunConfig(stocks=("NIFTY 50", "Zürich")).stocks == ("NIFTY 50", "Zürich")
    with pytest.raises(ValidationError, match=r"'\.\.'"):
        RunConfig(stocks=("../x",))
