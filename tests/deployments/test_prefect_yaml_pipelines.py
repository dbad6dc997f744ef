"""deployments/prefect.yaml: every deployment's parameters are a valid RunConfig, and the
per-stock pipeline has a deployment of its own (checked offline; deploying and running a
deployment: test_prefect_deployment.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from groves.config import RunConfig
from lambda_functions.stages import PIPELINES

PREFECT_YAML = Path(__file__).resolve().parents[2] / "deployments" / "prefect.yaml"


def deployments() -> list[dict[str, Any]]:
    return yaml.safe_load(PREFECT_YAML.read_text())["deployments"]


def test_every_deployment_config_is_a_run_config() -> None:
    for deployment in deployments():
        config = dict(deployment["parameters"]["config"])
        config["store"] = "/tmp/store"  # templated at deploy time
        RunConfig.model_validate(config)
        assert deployment["entrypoint"] == "flows/pipeline.py:forecast_pipeline"


def test_each_pipeline_has_a_deployment() -> None:
    chosen = {d["parameters"]["config"].get("pipeline", "grid") for d in deployments()}
    assert chosen == set(PIPELINES)
    per_stock = [d for d in deployments() if d["name"] == "groves-per-stock-local"]
    assert per_stock and per_stock[0]["parameters"]["config"]["pipeline"] == "per-stock"
