"""What the Prefect UI's Artifacts tab of a flow run asks the API for, asked the same way."""

from __future__ import annotations

from typing import Any

import httpx


def artifacts_tab(api_url: str, flow_run_id: Any) -> list[dict[str, Any]]:
    """The flow run's artifacts as the UI's Artifacts tab lists them.

    The UI (Prefect 3.x, ``FlowRunArtifacts``) posts this filter with no sort and no limit,
    so the server's defaults apply (id descending); it then shows the artifacts of the flow
    run itself, then those of its task runs, each group in the order received.
    """
    body = {
        "artifacts": {
            "flow_run_id": {"any_": [str(flow_run_id)]},
            "type": {"not_any_": ["result"]},
        }
    }
    reply = httpx.post(f"{api_url.rstrip('/')}/artifacts/filter", json=body, timeout=30)
    reply.raise_for_status()
    found = reply.json()
    return [a for a in found if not a.get("task_run_id")] + [
        a for a in found if a.get("task_run_id")
    ]
