"""Default runs and seed mode give the results they gave before issue 16, bit for bit.

``tests/data/default_golden.json`` was computed by the code before issue 16 (see
`tests.golden`): the events the flow plans for a default configuration, the default run
ids, every MSE (exact, as float hex) and every output's bytes and content, for a default
run and for the seed's literal events.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.golden import GOLDEN, compute_digest, versions


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def digest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return compute_digest(tmp_path_factory.mktemp("golden"))


def test_same_raw_data(golden: dict[str, Any], digest: dict[str, Any]) -> None:
    assert digest["raw"] == golden["raw"], "the demo generator changed: the golden is moot"


def test_default_events_run_ids_and_fingerprints_unchanged(
    golden: dict[str, Any], digest: dict[str, Any]
) -> None:
    assert digest["default"]["run_ids"] == golden["default"]["run_ids"]
    assert digest["default"]["events"] == golden["default"]["events"]
    assert digest["default"]["fingerprints"] == golden["default"]["fingerprints"]


@pytest.mark.parametrize("mode", ["default", "seed"])
def test_mses_unchanged_bit_for_bit(
    golden: dict[str, Any], digest: dict[str, Any], mode: str
) -> None:
    assert digest[mode]["mse"] == golden[mode]["mse"], _versions_note(golden)


@pytest.mark.parametrize("mode", ["default", "seed"])
def test_outputs_unchanged(golden: dict[str, Any], digest: dict[str, Any], mode: str) -> None:
    ours, theirs = digest[mode]["outputs"], golden[mode]["outputs"]
    assert sorted(ours) == sorted(theirs)
    same_libraries = versions() == golden["versions"]
    for key, entry in theirs.items():
        if key.endswith(".parquet"):
            assert ours[key]["content"] == entry["content"], key
        if key.endswith(".csv") or same_libraries:
            assert ours[key]["bytes"] == entry["bytes"], f"{key} {_versions_note(golden)}"


def test_golden_covers_every_kind_of_output(golden: dict[str, Any]) -> None:
    keys = [*golden["default"]["outputs"], *golden["seed"]["outputs"]]
    for suffix in (".parquet", ".csv", ".sav"):
        assert any(k.endswith(suffix) for k in keys), suffix
    assert any(Path(k).name == "mse.csv" for k in golden["seed"]["outputs"])


def _versions_note(golden: dict[str, Any]) -> str:
    if versions() == golden["versions"]:
        return "(same library versions as the golden)"
    return f"(libraries now {versions()}, golden computed with {golden['versions']})"
