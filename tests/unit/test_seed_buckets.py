"""The seed layout's buckets: names (S3's rules), the original's literal events, the
event field that puts receipts under groves/ in the main bucket."""

from __future__ import annotations

import pytest

from groves.config import RunConfig
from lambda_functions.errors import InvalidEventError
from lambda_functions.events import ParampredsEvent, ProcessingEvent, parse_event
from lambda_functions.seed_buckets import SeedBuckets, check_bucket_name, invoke_key
from tasks.invocations import plan_stage


@pytest.mark.parametrize("name", ["ds5110s3", "reliance-ds5110s3bucket", "a.b-c", "abc", "x" * 63])
def test_valid_bucket_names(name: str) -> None:
    assert check_bucket_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["ab", "x" * 64, "Upper", "under_score", "-start", "end-", "a..b", "a.-b", "192.168.1.2",
     "xn--abc", "m&m-ds5110s3bucket", "abc-s3alias"],
)  # fmt: skip
def test_invalid_bucket_names(name: str) -> None:
    with pytest.raises(InvalidEventError, match="not a valid S3 bucket name"):
        check_bucket_name(name)


def test_stock_buckets_follow_the_pattern() -> None:
    assert SeedBuckets().stock_bucket("KOTAKBANK") == "kotakbank-ds5110s3bucket"
    mine = SeedBuckets("team-main", "team-{stock}-groves")
    assert mine.stock_bucket("TCS") == "team-tcs-groves"
    with pytest.raises(InvalidEventError, match="M&M"):
        SeedBuckets().stock_bucket("M&M")  # '&' is no S3 bucket character
    for bad in ("no-placeholder", "{stock}-{stock}", "{stock}-{other}"):
        with pytest.raises(InvalidEventError, match="exactly once"):
            SeedBuckets(pattern=bad)


def test_literal_events_with_the_receipts_field() -> None:
    buckets = SeedBuckets("team-main", "team-{stock}-groves")
    processing = buckets.stock_fields("processing", "TCS", "TCS_minute_data_with_indicators.csv")
    assert processing == {
        "inbucket": "team-main",
        "outbucket": "team-tcs-groves",
        "file": "TCS_minute_data_with_indicators.csv",
        "stock": "TCS",
        "mainbucket": "team-main",
    }
    assert parse_event(ProcessingEvent, processing).seed_mode
    grove = {**buckets.stock_fields("parampreds", "TCS", ""), "feat": 5, "samp": 5, "pred_num": 0}
    assert grove["bucket"] == "team-tcs-groves"
    assert parse_event(ParampredsEvent, grove).mainbucket == "team-main"
    assert invoke_key("parampreds") == "runtimes/invoke_parampreds.txt"


def test_mainbucket_needs_the_seed_form_and_leaves_old_fingerprints_alone() -> None:
    with pytest.raises(InvalidEventError, match="mainbucket"):
        parse_event(
            ParampredsEvent,
            {"store": "/tmp/x", "stock": "TCS", "feat": 5, "samp": 5, "pred_num": 0,
             "mainbucket": "ds5110s3"},
        )  # fmt: skip
    literal = {"bucket": "tcs-ds5110s3bucket", "stock": "TCS", "feat": 5, "samp": 5, "pred_num": 0}
    plain = parse_event(ParampredsEvent, literal)
    assert "mainbucket" not in plain.model_dump(exclude_none=True)
    with_main = parse_event(ParampredsEvent, {**literal, "mainbucket": "ds5110s3"})
    assert with_main.fingerprint() != plain.fingerprint()


def test_seed_config_plans_the_originals_events() -> None:
    config = RunConfig(layout="seed", seed_bucket="team-main", stocks=("TCS",))
    assert config.resolved_run_id == "seed"
    assert config.store_url == "s3://team-main/groves"
    first = plan_stage("processing", "TCS", config, "id")[0]
    assert first.event["outbucket"] == "tcs-ds5110s3bucket"
    assert "store" not in first.event and "table_format" not in first.event  # CSV
    assert first.receipt_key == "runs/seed/receipts/processing/TCS/processing.json"
    grove = plan_stage("parampreds", "TCS", config, "id")[0]
    assert grove.event["bucket"] == "tcs-ds5110s3bucket"
    assert grove.event["mainbucket"] == "team-main"
    assert config.report_event("seed")["inbucket"] == "team-main"
    with pytest.raises(ValueError, match="long-format"):
        RunConfig(layout="seed", input={"files": "all.csv", "series_column": "id"})
