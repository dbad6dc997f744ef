"""A flow run's artifacts in an order of our choosing, on the run's Artifacts tab.

The Prefect UI (3.x) lists a run's artifacts by id, descending, and artifact ids are random
(uuid4), so artifacts appear in no meaningful order whatever order they are made in. The
id is fixed at creation but the content is not (an update may change ``data`` and
``description``; not ``type`` or ``key``). So `OrderedArtifacts` creates unkeyed markdown
artifacts as placeholders, sorts their ids the way the UI will, and fills them in that
order. Cards are markdown: the first line of a description shows on the Artifacts tab, so
an image there (``![title](url)``) shows the plot inline.

The pool can grow and be refilled: the progress artifacts made at the start of a run are
refilled, last, when the results are published at its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from groves.reporting.ui import Card

PLACEHOLDER = "publishing..."


def _run_ids() -> tuple[UUID | None, UUID | None]:
    """The current flow run and task run (None outside one)."""
    from prefect.context import FlowRunContext, TaskRunContext

    flow_run = FlowRunContext.get()
    task_run = TaskRunContext.get()
    return (
        flow_run.flow_run.id if flow_run and flow_run.flow_run else None,
        task_run.task_run.id if task_run else None,
    )


def display_order(ids: Sequence[UUID]) -> list[UUID]:
    """Ids in the order the Prefect UI lists their artifacts (id descending)."""
    return sorted(ids, key=lambda ident: ident.int, reverse=True)


class OrderedArtifacts:
    """Markdown artifacts of the current flow (or task) run, shown in a chosen order.

    Args:
        client: A sync Prefect client (kept open by the caller).
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.ids: list[UUID] = []  # display order
        self.flow_run_id, self.task_run_id = _run_ids()

    def reserve(self, count: int) -> list[UUID]:
        """Make sure the pool holds ``count`` artifacts; return the pool in display order."""
        from prefect.client.schemas.actions import ArtifactCreate

        while len(self.ids) < count:
            made = self.client.create_artifact(
                ArtifactCreate(
                    type="markdown",
                    data=PLACEHOLDER,
                    description=PLACEHOLDER,
                    flow_run_id=self.flow_run_id,
                    task_run_id=self.task_run_id,
                )
            )
            self.ids.append(made.id)
        self.ids = display_order(self.ids)
        return list(self.ids)

    def fill(self, cards: Sequence[Card]) -> list[UUID]:
        """Show ``cards`` in this order (the pool grows as needed; artifacts left over are
        deleted); return their ids."""
        ids = self.reserve(len(cards))
        for ident, card in zip(ids, cards, strict=False):
            update_card(self.client, ident, card)
        for ident in ids[len(cards) :]:
            self.client.delete_artifact(ident)
        self.ids = ids[: len(cards)]
        return list(self.ids)

    def adopt(self, ids: Sequence[UUID]) -> None:
        """Take artifacts made earlier (by another pool) into this one, to be refilled."""
        self.ids = display_order([*self.ids, *ids])


def update_card(client: Any, ident: UUID, card: Card) -> None:
    """Replace one markdown artifact's content."""
    from prefect.client.schemas.actions import ArtifactUpdate

    client.update_artifact(ident, ArtifactUpdate(data=card.markdown, description=card.description))
