"""The local Lambda endpoint, driven through the real boto3 Lambda client over HTTP.

Note on botocore's retry settings: in ``Config(retries=...)``, ``max_attempts`` counts *retries*
(``max_attempts=1`` sends two requests); ``total_max_attempts`` counts the first request too.
Tests that must see the raw error therefore use ``total_max_attempts=1``.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from groves import lambda_endpoint
from groves.lambda_endpoint import Faults, LocalLambdaEndpoint
from lambda_functions.stages import STAGES

FIXTURES = str(Path(__file__).resolve().parents[1] / "fixtures")
if FIXTURES not in sys.path:
    sys.path.insert(0, FIXTURES)  # the workers inherit sys.path, so they can import the fakes

HANDLERS = {name: f"fake_handlers:{name}" for name in ("echo", "boom", "touch", "sleepy", "gate")}
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def lambda_client(url: str, config: Config = NO_RETRY) -> Any:
    return boto3.client(
        "lambda",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def invoke(client: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[dict, Any]:
    """Invokes and returns the response and the decoded payload (None when empty)."""
    response = client.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
    raw = response["Payload"].read()
    return response, (json.loads(raw) if raw else None)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def make_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., LocalLambdaEndpoint]]:
    """Starts endpoints with the fake handlers (concurrency 2 unless told) and stops them all."""
    monkeypatch.delenv("GROVES_N_JOBS", raising=False)
    started: list[LocalLambdaEndpoint] = []

    def make(**kwargs: Any) -> LocalLambdaEndpoint:
        kwargs = {"handlers": HANDLERS, "concurrency": 2, **kwargs}
        started.append(LocalLambdaEndpoint(**kwargs).start())
        return started[-1]

    yield make
    for endpoint in started:
        endpoint.stop(timeout=5)


@pytest.fixture
def endpoint(make_endpoint: Callable[..., LocalLambdaEndpoint]) -> LocalLambdaEndpoint:
    return make_endpoint(env={"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5999"})


def test_default_registry_is_the_groves_functions() -> None:
    registry = LocalLambdaEndpoint()
    assert registry.handlers["parampreds"] == "lambda_functions.parampreds:lambda_handler"
    assert registry.handlers["modeling"] == "lambda_functions.modeling:lambda_handler"
    assert len(registry.handlers) == len(STAGES)  # one per registered stage
    assert registry.resolve("groves-parampreds") == "parampreds"
    assert registry.resolve("groves-nope") is None


def test_sync_invoke_returns_the_payload(endpoint: LocalLambdaEndpoint) -> None:
    response, payload = invoke(lambda_client(endpoint.url), "echo", {"stock": "KOTAKBANK"})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert payload["event"] == {"stock": "KOTAKBANK"}
    assert payload["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert payload["function_version"] == "$LATEST"
    assert payload["memory_limit_in_mb"] == 3008
    assert payload["log_group_name"] == "/aws/lambda/echo"
    assert 890_000 < payload["remaining_ms"] <= 900_000


def test_handler_exception_is_an_unhandled_function_error(endpoint: LocalLambdaEndpoint) -> None:
    response, payload = invoke(lambda_client(endpoint.url), "boom", {"message": "bad feat"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorMessage"] == "bad feat"
    assert payload["errorType"] == "ValueError"
    assert any("fake_handlers.py" in frame for frame in payload["stackTrace"])


def test_event_answers_202_and_runs_the_handler(
    endpoint: LocalLambdaEndpoint, tmp_path: Path
) -> None:
    response, payload = invoke(
        lambda_client(endpoint.url), "touch", {"dir": str(tmp_path)}, InvocationType="Event"
    )
    assert response["StatusCode"] == 202
    assert payload is None
    assert wait_for(lambda: len(list(tmp_path.glob("*.done"))) == 1)
    assert endpoint.wait_idle(30)
    assert endpoint.stats()["functions"]["touch"]["succeeded"] == 1


def test_dry_run_answers_204(endpoint: LocalLambdaEndpoint) -> None:
    response, _ = invoke(lambda_client(endpoint.url), "echo", InvocationType="DryRun")
    assert response["StatusCode"] == 204
    assert uuid.UUID(response["ResponseMetadata"]["RequestId"]).version == 4
    assert endpoint.stats()["functions"]["echo"]["executed"] == 0


def test_unknown_function_raises_resource_not_found(endpoint: LocalLambdaEndpoint) -> None:
    client = lambda_client(endpoint.url)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.invoke(FunctionName="groves-nope", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "groves-nope" in caught.value.response["Error"]["Message"]
    assert uuid.UUID(caught.value.response["ResponseMetadata"]["RequestId"]).version == 4


def test_invalid_json_raises_invalid_request_content(endpoint: LocalLambdaEndpoint) -> None:
    client = lambda_client(endpoint.url)
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName="echo", Payload=b"{not json")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_over_the_concurrency_cap_raises_too_many_requests(
    make_endpoint: Callable[..., LocalLambdaEndpoint], tmp_path: Path
) -> None:
    endpoint = make_endpoint(concurrency=1)
    client = lambda_client(endpoint.url)
    gate = tmp_path / "open"
    # The gate holds the only slot until the test opens it: no timing, nothing to race.
    invoke(client, "gate", {"path": str(gate)}, InvocationType="Event")
    with pytest.raises(client.exceptions.TooManyRequestsException) as caught:
        invoke(client, "echo")
    error = caught.value.response
    assert error["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert endpoint.stats()["functions"]["echo"] == {
        "received": 1, "throttled": 1, "failed": 0, "dropped": 0, "executed": 0, "succeeded": 0,
        "queued": 0, "expired": 0,
    }  # fmt: skip
    gate.touch()
    assert endpoint.wait_idle(30)
    invoke(client, "echo")  # a free slot again


def test_events_over_the_cap_are_queued_in_order(
    make_endpoint: Callable[..., LocalLambdaEndpoint], tmp_path: Path
) -> None:
    endpoint = make_endpoint(concurrency=1)
    client = lambda_client(endpoint.url)
    gate, out = tmp_path / "open", tmp_path / "out"
    out.mkdir()
    invoke(client, "gate", {"path": str(gate)}, InvocationType="Event")
    for _ in range(3):  # accepted (202) while the slot is taken, as Lambda accepts them
        response, _ = invoke(client, "touch", {"dir": str(out)}, InvocationType="Event")
        assert response["StatusCode"] == 202
        time.sleep(0.01)  # distinct modification times
    stats = endpoint.stats()
    assert stats["queued"] == 3
    assert stats["functions"]["touch"]["queued"] == 3
    assert stats["functions"]["touch"]["executed"] == 0
    assert list(out.iterdir()) == []
    gate.touch()
    assert endpoint.wait_idle(30)
    counts = endpoint.stats()["functions"]["touch"]
    assert (counts["executed"], counts["succeeded"], counts["expired"]) == (3, 3, 0)
    assert len(list(out.iterdir())) == 3


def test_queued_events_expire_after_the_maximum_event_age(
    make_endpoint: Callable[..., LocalLambdaEndpoint], tmp_path: Path
) -> None:
    endpoint = make_endpoint(concurrency=1, max_event_age_s=0.3)
    client = lambda_client(endpoint.url)
    gate, out = tmp_path / "open", tmp_path / "out"
    out.mkdir()
    invoke(client, "gate", {"path": str(gate)}, InvocationType="Event")
    invoke(client, "touch", {"dir": str(out)}, InvocationType="Event")
    time.sleep(0.5)  # older than its maximum age before any slot frees
    gate.touch()
    assert endpoint.wait_idle(30)
    counts = endpoint.stats()["functions"]["touch"]
    assert (counts["queued"], counts["expired"], counts["executed"]) == (1, 1, 0)
    assert list(out.iterdir()) == []


def test_reject_events_over_cap_answers_429(
    make_endpoint: Callable[..., LocalLambdaEndpoint], tmp_path: Path
) -> None:
    endpoint = make_endpoint(concurrency=1, faults=Faults(reject_events_over_cap=True))
    client = lambda_client(endpoint.url)
    gate = tmp_path / "open"
    invoke(client, "gate", {"path": str(gate)}, InvocationType="Event")
    with pytest.raises(client.exceptions.TooManyRequestsException):
        invoke(client, "echo", InvocationType="Event")
    assert endpoint.stats()["functions"]["echo"]["throttled"] == 1
    gate.touch()
    assert endpoint.wait_idle(30)


def test_reserved_concurrency_caps_a_function_and_is_reported(
    make_endpoint: Callable[..., LocalLambdaEndpoint], tmp_path: Path
) -> None:
    endpoint = make_endpoint(concurrency=3, reserved={"groves-gate": 1})
    client = lambda_client(endpoint.url)
    settings = client.get_account_settings()["AccountLimit"]
    assert settings["ConcurrentExecutions"] == 3
    assert settings["UnreservedConcurrentExecutions"] == 2
    assert (
        client.get_function_concurrency(FunctionName="groves-gate")["ReservedConcurrentExecutions"]
        == 1
    )
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(
        FunctionName="echo"
    )
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_concurrency(FunctionName="groves-nope")
    gate = tmp_path / "open"
    invoke(client, "gate", {"path": str(gate)}, InvocationType="Event")
    invoke(client, "gate", {"path": str(gate)}, InvocationType="Event")  # over its reservation
    assert endpoint.stats()["functions"]["gate"]["queued"] == 1
    _, payload = invoke(client, "echo", {"n": 1})  # the unreserved slots are free
    assert payload["event"] == {"n": 1}
    gate.touch()
    assert endpoint.wait_idle(30)
    assert endpoint.stats()["functions"]["gate"]["succeeded"] == 2
    with pytest.raises(ValueError, match="leaves none"):
        endpoint.set_limits(reserved={"gate": 2, "echo": 1})


def test_throttle_every_nth_call_with_retry_after(
    make_endpoint: Callable[..., LocalLambdaEndpoint],
) -> None:
    endpoint = make_endpoint(faults=Faults(throttle_every=2, retry_after_s=3))
    client = lambda_client(endpoint.url)
    invoke(client, "echo")
    with pytest.raises(client.exceptions.TooManyRequestsException) as caught:
        invoke(client, "echo")
    assert caught.value.response["retryAfterSeconds"] == "3"
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "3"
    invoke(client, "echo")
    with pytest.raises(client.exceptions.TooManyRequestsException):
        invoke(client, "echo", InvocationType="Event")
    counts = endpoint.stats()["functions"]["echo"]
    assert (counts["received"], counts["throttled"], counts["succeeded"]) == (4, 2, 2)


def test_botocore_takes_the_error_code_from_the_x_amzn_errortype_header(
    make_endpoint: Callable[..., LocalLambdaEndpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the header, the same 429 body is an anonymous "429" that standard mode won't retry.

    Our body carries ``Type: "User"`` (as Lambda's does) but no ``__type``/``code`` field, so the
    header is botocore's only source of the code; the other tests show that with it, botocore
    raises ``TooManyRequestsException`` and retries it.
    """
    status, _headers, body = lambda_endpoint._THROTTLED
    monkeypatch.setattr(lambda_endpoint, "_THROTTLED", (status, {}, body))
    endpoint = make_endpoint(faults=Faults(throttle_first={"echo": 1}))
    client = lambda_client(endpoint.url, Config(retries={"max_attempts": 5, "mode": "standard"}))
    with pytest.raises(ClientError) as caught:
        invoke(client, "echo")
    assert type(caught.value) is ClientError
    assert caught.value.response["Error"]["Code"] == "429"
    assert endpoint.stats()["functions"]["echo"]["received"] == 1  # not retried


def test_throttle_first_is_retried_by_botocore_standard_mode(
    make_endpoint: Callable[..., LocalLambdaEndpoint],
) -> None:
    endpoint = make_endpoint(faults=Faults(throttle_first={"echo": 2}))
    client = lambda_client(endpoint.url, Config(retries={"max_attempts": 5, "mode": "standard"}))
    response, payload = invoke(client, "echo", {"n": 1})
    assert payload["event"] == {"n": 1}
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    counts = endpoint.stats()["functions"]["echo"]
    assert (counts["received"], counts["throttled"], counts["succeeded"]) == (3, 2, 1)


def test_fail_first_injects_unhandled_errors(
    make_endpoint: Callable[..., LocalLambdaEndpoint],
) -> None:
    endpoint = make_endpoint(faults=Faults(fail_first={"groves-echo": 1}))  # prefixed key
    client = lambda_client(endpoint.url)
    response, payload = invoke(client, "echo")
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "InjectedFault"
    response, payload = invoke(client, "echo")
    assert "FunctionError" not in response
    counts = endpoint.stats()["functions"]["echo"]
    assert (counts["executed"], counts["failed"], counts["succeeded"]) == (2, 1, 1)


def test_dropped_events_are_accepted_but_never_run(
    make_endpoint: Callable[..., LocalLambdaEndpoint], tmp_path: Path
) -> None:
    endpoint = make_endpoint(faults=Faults(drop_event_fraction=1.0, drop_seed=7))
    response, _ = invoke(
        lambda_client(endpoint.url), "touch", {"dir": str(tmp_path)}, InvocationType="Event"
    )
    assert response["StatusCode"] == 202
    assert endpoint.wait_idle(30)
    with urllib.request.urlopen(f"{endpoint.url}/groves/stats") as reply:
        stats = json.load(reply)
    assert stats["functions"]["touch"]["dropped"] == 1
    assert stats["functions"]["touch"]["executed"] == 0
    assert stats == endpoint.stats()
    assert list(tmp_path.iterdir()) == []


def test_duplicate_events_run_twice(
    make_endpoint: Callable[..., LocalLambdaEndpoint], tmp_path: Path
) -> None:
    endpoint = make_endpoint(faults=Faults(duplicate_events=True))
    invoke(lambda_client(endpoint.url), "touch", {"dir": str(tmp_path)}, InvocationType="Event")
    assert endpoint.wait_idle(30)
    assert len(list(tmp_path.glob("*.done"))) == 2
    counts = endpoint.stats()["functions"]["touch"]
    assert (counts["received"], counts["executed"], counts["succeeded"]) == (1, 2, 2)


def test_failed_events_are_recorded(endpoint: LocalLambdaEndpoint) -> None:
    invoke(lambda_client(endpoint.url), "boom", {"message": "lost"}, InvocationType="Event")
    assert endpoint.wait_idle(30)
    [error] = endpoint.stats()["errors"]
    assert (error["function"], error["errorType"], error["errorMessage"]) == (
        "boom",
        "ValueError",
        "lost",
    )


def test_delay_seconds_delays_the_handler(
    make_endpoint: Callable[..., LocalLambdaEndpoint],
) -> None:
    endpoint = make_endpoint(faults=Faults(delay_seconds={"echo": 0.4}))
    client = lambda_client(endpoint.url)
    invoke(client, "groves-echo")  # warm the worker up
    started = time.monotonic()
    invoke(client, "echo")
    assert time.monotonic() - started >= 0.4


@pytest.mark.parametrize(
    ("name", "qualifier", "arn_suffix"),
    [
        ("echo", None, "echo"),
        ("groves-echo", None, "groves-echo"),
        ("groves-echo", "live", "groves-echo:live"),
        ("arn:aws:lambda:us-east-1:123456789012:function:groves-echo", None, "groves-echo"),
        ("arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST", None, "echo:$LATEST"),
        ("123456789012:function:groves-echo:7", None, "groves-echo:7"),
    ],
)
def test_names_and_arns_resolve(
    endpoint: LocalLambdaEndpoint, name: str, qualifier: str | None, arn_suffix: str
) -> None:
    extra = {"Qualifier": qualifier} if qualifier else {}
    response, payload = invoke(lambda_client(endpoint.url), name, **extra)
    assert response["StatusCode"] == 200
    deployed = arn_suffix.split(":")[0]
    assert payload["function_name"] == payload["lambda_name_env"] == deployed
    assert payload["invoked_function_arn"].endswith(f":function:{arn_suffix}")
    assert endpoint.stats()["functions"]["echo"]["succeeded"] == 1


def test_worker_environment(endpoint: LocalLambdaEndpoint) -> None:
    keys = ["GROVES_N_JOBS", "AWS_ENDPOINT_URL_S3", "AWS_LAMBDA_FUNCTION_NAME"]
    _, payload = invoke(lambda_client(endpoint.url), "groves-echo", {"env_keys": keys})
    assert payload["env"] == {
        "GROVES_N_JOBS": "1",
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5999",
        "AWS_LAMBDA_FUNCTION_NAME": "groves-echo",
    }


def test_groves_n_jobs_already_set_is_kept(
    make_endpoint: Callable[..., LocalLambdaEndpoint],
) -> None:
    endpoint = make_endpoint(env={"GROVES_N_JOBS": "3"})
    _, payload = invoke(lambda_client(endpoint.url), "echo", {"env_keys": ["GROVES_N_JOBS"]})
    assert payload["env"] == {"GROVES_N_JOBS": "3"}


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_the_endpoint_and_its_workers(tmp_path: Path) -> None:
    import signal
    import socket
    import subprocess

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "groves", "lambda-endpoint", "--port", str(port),
               "--concurrency", "2"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _answers(url), timeout=60), "endpoint did not start"
        client = lambda_client(url)
        for _ in range(2):  # bad events: each runs in a worker process, fails validation
            response, _payload = invoke(client, "groves-minmse", {"bad": 1})
            assert response["FunctionError"] == "Unhandled"
        workers = _descendants(server.pid)
        assert len(workers) >= 2  # the forkserver and at least one worker
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=10), [
            pid for pid in workers if _alive(pid)
        ]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/groves/stats", timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False
