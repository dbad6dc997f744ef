"""Progress of a run: counters per stage, and one Prefect artifact per stage.

`ProgressBoard` counts invocations done / total per stage; the CLI's progress bars and
`StageProgressArtifacts` listen to it. Listeners are called from the stage tasks'
threads on every finished invocation, so the artifact listener only records the latest
counts; a background thread sends them to the API at most once per stage per
``interval_s`` through one API client it keeps open (Prefect's ``update_progress_artifact``
builds a new client, TLS context and health check per call: most of the orchestrator's
CPU in a profiled run), and sends the final counts when `StageProgressArtifacts.close`
stops it.

The artifacts are markdown (a text progress bar) in stage order on the run's Artifacts
tab (`tasks.artifacts`); the run's results are published before them at its end.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from tasks.artifacts import Card, OrderedArtifacts, update_card

logger = logging.getLogger(__name__)

Listener = Callable[[str, int, int], None]


class ProgressBoard:
    """Thread-safe counters of invocations done / total per stage, for progress displays."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.executed: dict[str, int] = {}
        self.listeners: list[Listener] = []

    def add_total(self, stage: str, count: int) -> None:
        with self._lock:
            self.total[stage] = self.total.get(stage, 0) + count
            self.done.setdefault(stage, 0)
        self._notify(stage)

    def advance(self, stage: str, count: int = 1, executed: bool = True) -> None:
        with self._lock:
            self.done[stage] = self.done.get(stage, 0) + count
            if executed:
                self.executed[stage] = self.executed.get(stage, 0) + count
        self._notify(stage)

    def _notify(self, stage: str) -> None:
        for listener in self.listeners:
            listener(stage, self.done.get(stage, 0), self.total.get(stage, 0))


BAR_WIDTH = 20


def progress_card(stage: str, done: int, total: int, final: bool) -> Card:
    """A stage's progress as a markdown card: the state in its description, a text bar."""
    if total == 0:
        state = "not reached" if final else "waiting"
    elif done >= total:
        state = "done"
    else:
        state = "stopped" if final else "running"
    text = f"{stage}: {done} of {total} invocations, {state}"
    fraction = min(done / total, 1.0) if total else 0.0
    filled = round(fraction * BAR_WIDTH)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    return Card(text, f"### {stage}\n\n`[{bar}]` {100 * fraction:.0f}% - {text}")


class StageProgressArtifacts:
    """Mirror per-stage progress (done / total invocations) as Prefect artifacts.

    Create it inside a flow run (the artifacts then belong to that run), register it as a
    listener, and close it when the run ends. API errors are logged once and never raised:
    a progress display must not fail a run.

    Args:
        stages: the stages, in pipeline order; one artifact each, in that order.
        run_id: the groves run id.
        interval_s: the least time between two updates of one stage's artifact.
    """

    def __init__(self, stages: Sequence[str], run_id: str, interval_s: float = 1.0) -> None:
        self.run_id = run_id
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[int, int]] = {stage: (0, 0) for stage in stages}
        self._sent: dict[str, tuple[int, int]] = dict(self._latest)
        self._ids: dict[str, UUID] = {}
        self._failed = False
        self._stop = threading.Event()
        self._create()
        self._thread = threading.Thread(target=self._loop, name="groves-ui-progress", daemon=True)
        self._thread.start()

    def __call__(self, stage: str, done: int, total: int) -> None:
        """`ProgressBoard` listener: remember the stage's latest counts (no I/O here)."""
        with self._lock:
            if stage in self._latest:
                self._latest[stage] = (done, total)

    def close(self) -> None:
        """Stop the background thread, which then sends every stage's final counts."""
        self._stop.set()
        self._thread.join(timeout=30)

    def cards(self) -> list[Card]:
        """Each stage's latest progress, final (call after `close`), in stage order."""
        with self._lock:
            return [progress_card(s, *counts, final=True) for s, counts in self._latest.items()]

    @property
    def artifact_ids(self) -> list[UUID]:
        """The artifacts, in stage order (empty if the API refused them)."""
        return [self._ids[stage] for stage in self._latest if stage in self._ids]

    def _create(self) -> None:
        from prefect.client.orchestration import get_client

        try:
            with get_client(sync_client=True) as client:
                pool = OrderedArtifacts(client)
                cards = [progress_card(stage, 0, 0, final=False) for stage in self._latest]
                self._ids = dict(zip(self._latest, pool.fill(cards), strict=True))
        except Exception as exc:  # the API is down or refused: run without the display
            self._warn(exc)

    def _loop(self) -> None:
        from prefect.client.orchestration import get_client

        try:
            with get_client(sync_client=True) as client:
                while not self._stop.wait(self.interval_s):
                    self._flush(client, final=False)
                self._flush(client, final=True)
        except Exception as exc:  # the API went away: the run goes on without the display
            self._warn(exc)

    def _flush(self, client: Any, final: bool) -> None:
        with self._lock:
            changed = {
                stage: counts
                for stage, counts in self._latest.items()
                if final or counts != self._sent[stage]
            }
        for stage, (done, total) in changed.items():
            if stage not in self._ids or self._failed:
                return
            try:
                update_card(client, self._ids[stage], progress_card(stage, done, total, final))
            except Exception as exc:
                self._warn(exc)
                return
            with self._lock:
                self._sent[stage] = (done, total)

    def _warn(self, exc: Exception) -> None:
        if not self._failed:
            logger.warning("progress artifacts disabled: %s: %s", type(exc).__name__, exc)
        self._failed = True
