"""The run summary keeps display names and says what was forecast (issue 16)."""

from __future__ import annotations

from typing import Any

from groves.config import RunConfig
from groves.reporting.summary import scores_rows, summarize_run, summary_markdown
from lambda_functions.inputs import InputSpec
from lambda_functions.stages import GRID


def stage_results() -> dict[str, dict[str, Any]]:
    results = {
        "minmse": [{"feat": 5, "samp": 25, "mse": 1.5}],
        "predmses": [{"persistence_mse": 1.6}],
        "testfull": [{"mse": 2.0, "persistence_mse": 2.5, "ratio": 0.8, "horizon": 5}],
    }
    return {
        stage: {"results": results.get(stage, [{}]), "executed": 1, "reused": 0}
        for stage in GRID.names
    }


def summary(config: RunConfig) -> dict[str, Any]:
    timing = {"wall_s": 1.0, "tables": {"actual": {}, "sequential": {}}}
    return summarize_run(
        config,
        "r",
        ["NIFTY 50", "Zürich", "BROKEN"],
        {"NIFTY 50": stage_results(), "Zürich": stage_results()},
        {"BROKEN": "input: raw/BROKEN.csv: missing column(s) ['y']"},
        timing,
        {"done": {}, "total": {}},
    )


def test_rows_carry_display_name_and_key() -> None:
    config = RunConfig(input=InputSpec(files="{series}.csv", value_column="y"), horizon=5)
    result = summary(config)
    rows = {r["stock"]: r for r in result["stocks"]}
    assert rows["NIFTY 50"]["display_name"] == "NIFTY 50"
    assert rows["NIFTY 50"]["key"] == "NIFTY~2050"
    assert rows["Zürich"]["key"] == "Z~C3~BCrich"
    assert rows["BROKEN"]["status"] == "failed" and rows["BROKEN"]["key"] == "BROKEN"
    assert rows["NIFTY 50"]["test_mse"] == 2.0
    assert result["forecast"] == {"value": "y", "lags": 10, "horizon": 5}
    assert result["input"]["files"] == "{series}.csv"
    assert [r["stock"] for r in scores_rows(result["stocks"])] == ["NIFTY 50", "Zürich", "BROKEN"]
    text = summary_markdown(result)
    assert "| NIFTY 50 | (5, 25) |" in text
    assert "Forecast: y 5 step(s) ahead from 10 lags" in text
    assert "5 step(s) before the target" in text


def test_default_summary_says_nothing_new() -> None:
    text = summary_markdown(summary(RunConfig()))
    assert "Forecast:" not in text
