"""Artifacts in a chosen order on a flow run's Artifacts tab, against the real (session)
Prefect API, read back the way the UI reads them."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.runtime import flow_run

from groves.reporting.ui import Card
from tasks.artifacts import OrderedArtifacts
from tests.prefect_ui import artifacts_tab


def test_cards_show_in_the_order_given_and_adopted_ones_are_refilled(prefect_api: str) -> None:
    @flow
    def publish() -> tuple[Any, list[Any]]:
        with get_client(sync_client=True) as client:
            early = OrderedArtifacts(client)  # e.g. progress, made at the start of a run
            progress = early.fill([Card(f"progress {i}", "live") for i in range(3)])
            late = OrderedArtifacts(client)
            late.adopt(progress)
            cards = [Card(f"result {i}", f"# result {i}") for i in range(12)]
            cards += [Card(f"progress {i}", "final") for i in range(3)]
            return flow_run.id, late.fill(cards)

    run_id, ids = publish()
    shown = artifacts_tab(prefect_api, run_id)
    assert [a["description"] for a in shown] == [
        *(f"result {i}" for i in range(12)),
        *(f"progress {i}" for i in range(3)),
    ]
    assert [a["id"] for a in shown] == [str(i) for i in ids]
    assert {a["type"] for a in shown} == {"markdown"} and not any(a["key"] for a in shown)
    assert [a["data"] for a in shown][-3:] == ["final"] * 3


def test_a_smaller_refill_deletes_the_artifacts_left_over(prefect_api: str) -> None:
    @flow
    def publish() -> Any:
        with get_client(sync_client=True) as client:
            pool = OrderedArtifacts(client)
            pool.fill([Card(str(i), "") for i in range(5)])
            pool.fill([Card("only", "")])
            return flow_run.id

    assert [a["description"] for a in artifacts_tab(prefect_api, publish())] == ["only"]
