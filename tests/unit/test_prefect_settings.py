"""The Prefect server settings groves starts its runs with (`groves.prefect_settings`)."""

from __future__ import annotations

import os

import pytest

from groves.prefect_settings import SERVER_DEFAULTS, apply_server_defaults


def test_defaults_fill_in_and_never_override(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SERVER_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    mine = "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"
    monkeypatch.setenv(mine, "7")
    apply_server_defaults()
    assert os.environ[mine] == "7"  # the user's own setting stands
    for name, value in SERVER_DEFAULTS.items():
        if name != mine:
            assert os.environ[name] == value


def test_prefect_reads_them_as_the_server_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SERVER_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    apply_server_defaults()
    from prefect.settings import Settings

    services = Settings().server.services  # what a server started now would use
    assert services.task_run_recorder.batch_size == 500
    assert services.task_run_recorder.flush_interval == 1
    assert services.event_persister.batch_size == 500
    assert services.event_persister.flush_interval == 1
