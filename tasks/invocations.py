"""Planned invocations: events validated against the stage registry, receipts located.

An `Invocation` is one worker call as the orchestrator sees it: its stage, event, the key
its receipt will appear at, and the event's fingerprint (what a reusable receipt must
match). Nothing is invoked here; `tasks.awaiting` does that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from groves.config import RunConfig
from lambda_functions.events import parse_event
from lambda_functions.layout import RunLayout
from lambda_functions.receipts import Receipt
from lambda_functions.stages import stage as registered
from lambda_functions.worker import CODE_VERSION


@dataclass(frozen=True)
class Invocation:
    """One planned worker invocation and where its receipt will appear."""

    stage: str
    stock: str | None
    unit: str
    event: dict[str, Any]
    receipt_key: str
    fingerprint: str

    @property
    def name(self) -> str:
        """``stage/stock/unit``, as failures and logs name an invocation."""
        return f"{self.stage}/{self.stock or '_run'}/{self.unit}"


def plan(stage: str, event: dict[str, Any]) -> Invocation:
    """Validate an event (so a bad one is never sent) and locate its receipt."""
    spec = registered(stage)
    parsed = parse_event(spec.event_model, event)
    stock = parsed.stock_name if spec.scope == "stock" else None
    unit = spec.unit_of(parsed)
    key = RunLayout(parsed.run_id).receipt_key(
        spec.name, stock, unit, outlives_run=spec.deletes_run
    )
    return Invocation(spec.name, stock, unit, event, key, parsed.fingerprint())


def stage_events(stage: str, stock: str, config: RunConfig, input_id: str) -> list[dict[str, Any]]:
    """The events of one stage for one stock: the run's shared fields plus the fan-out's."""
    base = {**config.stock_event_base(stage, stock), "input_id": input_id}
    return [{**base, **fields} for fields in registered(stage).fan_out(config.shape)]


def plan_stage(stage: str, stock: str, config: RunConfig, input_id: str) -> list[Invocation]:
    """One stage's invocations for one stock."""
    return [plan(stage, event) for event in stage_events(stage, stock, config, input_id)]


def is_reusable(receipt: Receipt, invocation: Invocation, executor_kind: str) -> bool:
    """A receipt stands for this invocation: it succeeded, on the same event and input;
    for local workers (which are this very code) also on the same code version."""
    if not receipt.ok or receipt.fingerprint != invocation.fingerprint:
        return False
    return executor_kind != "local" or receipt.code_version == CODE_VERSION
