"""The AWS deployment, verified offline: deployments/template.yaml and the Lambda image.

No Docker engine and no AWS account are needed: cfn-lint checks the SAM template and its
offline SAM expansion, `template_checks` checks what cfn-lint cannot (our limits, handlers
that import, least-privilege IAM), mutation tests prove every check can fail, and a slow
test installs only the image's requirements into a fresh venv and runs two workers there.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from glob import glob
from pathlib import Path
from typing import Any

import pytest
import template_checks as tc

REPO = tc.REPO
DEPLOYMENTS = REPO / "deployments"
DOCKERFILE = DEPLOYMENTS / "lambda" / "Dockerfile"
REQUIREMENTS = DEPLOYMENTS / "lambda" / "requirements.txt"
IMAGE_PYTHON = "3.12"  # public.ecr.aws/lambda/python:3.12

# cfn-lint warnings we accept, by rule and a fragment of the message, with the reason.
ACCEPTED_WARNINGS = {
    # SAM resolves parameters inside EventInvokeConfig at transform time (CloudFormation's
    # SAM transform does the same with the deploy-time values), so the expansion no longer
    # refers to this parameter. The SAM template itself does use it.
    ("W2001", "MaxEventAgeSeconds"): "resolved into EventInvokeConfig by the SAM transform",
}


def errors_and_warnings(results: list[tc.LintResult]) -> tuple[list[str], list[str]]:
    """cfn-lint errors, and the warnings not in ACCEPTED_WARNINGS (informational ignored)."""
    errors = [str(r) for r in results if r.severity == "error"]
    unexpected = [
        str(r)
        for r in results
        if r.severity == "warning"
        and not any(r.rule == rule and part in r.message for rule, part in ACCEPTED_WARNINGS)
    ]
    return errors, unexpected


def report(unexpected: list[str], what: str) -> None:
    for text in unexpected:
        warnings.warn(f"cfn-lint warning on {what}: {text}", stacklevel=2)


@pytest.fixture(scope="module")
def sam_template() -> dict[str, Any]:
    return tc.load_template()


@pytest.fixture(scope="module")
def expanded(sam_template: dict[str, Any]) -> dict[str, Any]:
    return tc.expand(sam_template)


def mutated(sam_template: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict:
    """The expansion of a copy of the SAM template after ``change``."""
    template = copy.deepcopy(sam_template)
    change(template)
    return tc.expand(template)


# --------------------------------------------------------------------------- (a), (b) lint


def test_sam_template_passes_cfn_lint() -> None:
    errors, unexpected = errors_and_warnings(tc.lint(tc.TEMPLATE))
    assert not errors, "cfn-lint errors in deployments/template.yaml:\n" + "\n".join(errors)
    report(unexpected, "template.yaml")


def test_expanded_template_passes_cfn_lint(expanded: dict[str, Any]) -> None:
    errors, unexpected = errors_and_warnings(tc.lint(expanded))
    assert not errors, "cfn-lint errors in the SAM expansion:\n" + "\n".join(errors)
    report(unexpected, "the SAM expansion")


@pytest.mark.parametrize(
    ("setting", "value"),
    [("Timeout", 1000), ("MaximumRetryAttempts", 3)],
)
def test_cfn_lint_catches_limits_in_the_expansion(
    sam_template: dict[str, Any], setting: str, value: int
) -> None:
    def change(t: dict[str, Any]) -> None:
        glob_fn = t["Globals"]["Function"]
        target = glob_fn["EventInvokeConfig"] if setting == "MaximumRetryAttempts" else glob_fn
        target[setting] = value

    errors = [r.message for r in tc.lint(mutated(sam_template, change)) if r.severity == "error"]
    assert any(re.search(rf"\b{value}\b", e) for e in errors), f"accepted {setting}={value}"


def test_sam_expansion_rejects_a_missing_image_uri(sam_template: dict[str, Any]) -> None:
    """The fake ECR URI is needed: without ImageUri the transform itself fails."""
    from samtranslator.model.exceptions import InvalidDocumentException

    template = copy.deepcopy(sam_template)
    del template["Resources"]["ParampredsFunction"]["Properties"]["ImageUri"]
    with pytest.raises(InvalidDocumentException, match="ImageUri"):
        tc.expand(template)


def test_fake_image_uri_matches_the_parameter_pattern(sam_template: dict[str, Any]) -> None:
    pattern = sam_template["Parameters"]["ImageUri"]["AllowedPattern"]
    assert re.fullmatch(pattern, tc.FAKE_IMAGE_URI)
    digest = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/groves@sha256:" + "a" * 64
    assert re.fullmatch(pattern, digest)
    for bad in ("groves:latest", "docker.io/library/python:3.12", ""):
        assert not re.fullmatch(pattern, bad), bad


# --------------------------------------------------------------------------- (c) functions


def test_one_function_per_registered_stage(expanded: dict[str, Any]) -> None:
    assert tc.check_function_set(expanded) == []
    assert len(tc.functions(expanded)) == len(tc.FUNCTIONS)


def test_function_limits_and_defaults(expanded: dict[str, Any]) -> None:
    assert tc.check_function_limits(expanded) == []
    for logical_id, props in tc.functions(expanded).items():
        resolved = {key: tc.resolve(props[key], expanded, {}) for key in ("MemorySize", "Timeout")}
        assert resolved == {"MemorySize": 3008, "Timeout": 900}, logical_id
        assert props["EphemeralStorage"] == {"Size": 2048}, logical_id
        assert props["Architectures"] == ["x86_64"], logical_id
        n_jobs = props["Environment"]["Variables"]["GROVES_N_JOBS"]
        assert tc.resolve(n_jobs, expanded, {}) == -1, logical_id


def test_limits_hold_at_the_parameter_bounds(sam_template: dict[str, Any]) -> None:
    """The largest values the parameters allow are still within Lambda's limits."""
    params = {"MemorySize": 10240, "Timeout": 900, "MaxEventAgeSeconds": 21600}
    expanded = tc.expand(sam_template, params)
    assert tc.check_function_limits(expanded, params) == []
    assert tc.check_event_invoke_configs(expanded) == []


def test_no_lambda_retries_and_a_failure_destination(expanded: dict[str, Any]) -> None:
    assert tc.check_event_invoke_configs(expanded) == []
    queue = {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}
    for resource in expanded["Resources"].values():
        if resource["Type"] == "AWS::Lambda::EventInvokeConfig":
            props = resource["Properties"]
            assert props["MaximumRetryAttempts"] == 0
            assert props["DestinationConfig"]["OnFailure"]["Destination"] == queue


def test_every_handler_imports_and_is_callable(expanded: dict[str, Any]) -> None:
    assert tc.check_handlers(expanded) == []


def test_outputs_name_everything_the_flow_needs(expanded: dict[str, Any]) -> None:
    outputs = expanded["Outputs"]
    assert outputs["StoreUrl"]["Value"] == {"Fn::Sub": "s3://${StoreBucket}"}
    for key in ("BucketName", "FailedInvocationsQueueUrl", "FunctionNamePrefix"):
        assert key in outputs, key
    for name in tc.FUNCTIONS:
        logical_id = name.capitalize() + "Function"
        assert outputs[f"{logical_id}Name"]["Value"] == {"Ref": logical_id}
        assert outputs[f"{logical_id}Arn"]["Value"] == {"Fn::GetAtt": [logical_id, "Arn"]}


def test_store_bucket_is_private_and_encrypted(expanded: dict[str, Any]) -> None:
    bucket = expanded["Resources"]["StoreBucket"]
    props = bucket["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert "VersioningConfiguration" not in props
    assert bucket["DeletionPolicy"] == "Retain"


# --------------------------------------------------------------------------- (d) IAM


def test_iam_is_least_privilege(expanded: dict[str, Any]) -> None:
    assert tc.check_iam(expanded) == []
    statements = list(tc.policy_statements(expanded))
    assert len(statements) >= 8  # worker role (4 + trust), orchestrator (4), bucket (1)
    for where, statement in statements:
        for resource in tc._as_list(statement.get("Resource", [])):
            if resource == "*":  # only the account-level read, alone in its statement
                assert tc._as_list(statement["Action"]) == ["lambda:GetAccountSettings"], where


def test_worker_role_grants_exactly_the_store_queue_and_logs(expanded: dict[str, Any]) -> None:
    role = expanded["Resources"]["WorkerRole"]["Properties"]
    granted: dict[str, set[str]] = {}
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            for action in tc._as_list(statement["Action"]):
                for resource in tc._as_list(statement["Resource"]):
                    granted.setdefault(action, set()).add(tc.render(resource) or "?")
    bucket, objects = "${StoreBucket.Arn}", "${StoreBucket.Arn}/*"
    assert granted.pop("s3:ListBucket") == {bucket}
    assert granted.pop("s3:GetBucketLocation") == {bucket}
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert granted.pop(action) == {objects}, action
    assert granted.pop("sqs:SendMessage") == {"${FailedInvocationsQueue.Arn}"}
    log_groups = {"${" + n.capitalize() + "LogGroup.Arn}" for n in tc.FUNCTIONS}
    assert granted.pop("logs:CreateLogStream") == log_groups
    assert granted.pop("logs:PutLogEvents") == log_groups
    assert granted == {}, f"unexpected grants: {granted}"
    assert "ManagedPolicyArns" not in role


# --------------------------------------------------------------------------- (e) mutations


def _globals(t: dict[str, Any]) -> dict[str, Any]:
    return t["Globals"]["Function"]


def _worker_statements(t: dict[str, Any]) -> list[dict[str, Any]]:
    return t["Resources"]["WorkerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def _orchestrator_statement(t: dict[str, Any], sid: str) -> dict[str, Any]:
    statements = t["Resources"]["OrchestratorPolicy"]["Properties"]["PolicyDocument"]
    return next(s for s in statements["Statement"] if s.get("Sid") == sid)


def _command(t: dict[str, Any], logical_id: str, handler: str) -> None:
    t["Resources"][logical_id]["Properties"]["ImageConfig"]["Command"] = [handler]


def _add_function(t: dict[str, Any], logical_id: str, name: str) -> None:
    extra = copy.deepcopy(t["Resources"]["MinmseFunction"])
    extra["Properties"]["FunctionName"] = name
    t["Resources"][logical_id] = extra


MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], Callable[..., list[str]], str]] = {
    "timeout 1000": (
        lambda t: _globals(t).__setitem__("Timeout", 1000),
        tc.check_function_limits,
        "Timeout 1000 is outside",
    ),
    "timeout parameter default 1000": (
        lambda t: t["Parameters"]["Timeout"].update(Default=1000, MaxValue=1000),
        tc.check_function_limits,
        "Timeout 1000 is outside",
    ),
    "timeout parameter allows 1000": (
        lambda t: t["Parameters"]["Timeout"].__setitem__("MaxValue", 1000),
        tc.check_function_limits,
        "do not keep it within 1-900",
    ),
    "memory 20000": (
        lambda t: _globals(t).__setitem__("MemorySize", 20000),
        tc.check_function_limits,
        "MemorySize 20000 is outside",
    ),
    "memory 64": (
        lambda t: _globals(t).__setitem__("MemorySize", 64),
        tc.check_function_limits,
        "MemorySize 64 is outside",
    ),
    "arm64": (
        lambda t: _globals(t).__setitem__("Architectures", ["arm64"]),
        tc.check_function_limits,
        "Architectures ['arm64']",
    ),
    "retries 3": (
        lambda t: _globals(t)["EventInvokeConfig"].__setitem__("MaximumRetryAttempts", 3),
        tc.check_event_invoke_configs,
        "MaximumRetryAttempts 3 != 0",
    ),
    "retries left at Lambda's default": (
        lambda t: _globals(t).pop("EventInvokeConfig"),
        tc.check_event_invoke_configs,
        "0 EventInvokeConfig(s)",
    ),
    "no failure destination": (
        lambda t: _globals(t)["EventInvokeConfig"].pop("DestinationConfig"),
        tc.check_event_invoke_configs,
        "no OnFailure destination",
    ),
    "resource star": (
        lambda t: _worker_statements(t)[0].__setitem__("Resource", "*"),
        tc.check_iam,
        "Resource '*' is a wildcard",
    ),
    "resource list with a bare star": (
        lambda t: _worker_statements(t)[1].__setitem__(
            "Resource", [{"Fn::Sub": "${StoreBucket.Arn}/*"}, "*"]
        ),
        tc.check_iam,
        "Resource '*' is a wildcard",
    ),
    "another action beside the account-level read on star": (
        lambda t: _orchestrator_statement(t, "ReadAccountLimits").__setitem__(
            "Action", ["lambda:GetAccountSettings", "lambda:InvokeFunction"]
        ),
        tc.check_iam,
        "Resource '*' is a wildcard",
    ),
    "every bucket": (
        lambda t: _worker_statements(t)[1].__setitem__("Resource", "arn:aws:s3:::*"),
        tc.check_iam,
        "is a wildcard",
    ),
    "another bucket": (
        lambda t: _worker_statements(t)[1].__setitem__("Resource", "arn:aws:s3:::other/*"),
        tc.check_iam,
        "is not the project bucket",
    ),
    "wildcard action": (
        lambda t: _worker_statements(t)[1].__setitem__("Action", "s3:*"),
        tc.check_iam,
        "wildcard action 's3:*'",
    ),
    "managed policy": (
        lambda t: t["Resources"]["WorkerRole"]["Properties"].__setitem__(
            "ManagedPolicyArns",
            ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
        ),
        tc.check_iam,
        "managed policies",
    ),
    "SAM-generated role": (  # SAM would attach AWSLambdaBasicExecutionRole (logs on "*")
        lambda t: t["Resources"]["MinmseFunction"]["Properties"].pop("Role"),
        tc.check_iam,
        "MinmseFunctionRole: managed policies",
    ),
    "handler that does not exist": (
        lambda t: _command(t, "ParampredsFunction", "lambda_functions.parampreds.no_handler"),
        tc.check_handlers,
        "has no callable 'no_handler'",
    ),
    "module that does not exist": (
        lambda t: _command(t, "MinmseFunction", "lambda_functions.nosuchworker.lambda_handler"),
        tc.check_handlers,
        "cannot import lambda_functions.nosuchworker",
    ),
    "handler outside lambda_functions": (
        lambda t: _command(t, "MinmseFunction", "os.getcwd"),
        tc.check_handlers,
        "is not lambda_functions.<module>.<function>",
    ),
    "another worker's handler": (
        lambda t: _command(t, "TestfullFunction", "lambda_functions.trainfull.lambda_handler"),
        tc.check_handlers,
        "runs another worker's",
    ),
    "a function missing": (
        lambda t: t["Resources"].pop("ClearbucketsFunction"),
        tc.check_function_set,
        "missing functions: ['groves-clearbuckets']",
    ),
    "a ninth function": (
        lambda t: _add_function(t, "ExtraFunction", "groves-extra"),
        tc.check_function_set,
        "unexpected functions: ['groves-extra']",
    ),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_check_catches_its_mutation(sam_template: dict[str, Any], name: str) -> None:
    change, check, expected = MUTATIONS[name]
    template = copy.deepcopy(sam_template)
    change(template)
    expanded = tc.expand(template)
    problems = check(expanded)
    assert any(expected in p for p in problems), f"{name}: {problems}"
    assert any(expected in p for p in tc.check_all(expanded)), name


# --------------------------------------------------------------------------- the image


def test_template_points_sam_build_at_the_dockerfile(sam_template: dict[str, Any]) -> None:
    for logical_id, resource in sam_template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        meta = resource["Metadata"]
        context = (tc.TEMPLATE.parent / meta["DockerContext"]).resolve()
        assert context == REPO, logical_id
        assert (context / meta["Dockerfile"]).resolve() == DOCKERFILE, logical_id


def test_dockerfile_builds_the_lambda_image() -> None:
    text = DOCKERFILE.read_text()
    instructions = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    base = [line for line in instructions if line.startswith("FROM ")]
    assert len(base) == 1 and "public.ecr.aws/lambda/python:3.12" in base[0], base
    assert "linux/amd64" in base[0]
    assert "COPY deployments/lambda/requirements.txt" in text
    assert '--target "${LAMBDA_TASK_ROOT}"' in text
    assert "COPY lambda_functions/ ${LAMBDA_TASK_ROOT}/lambda_functions/" in text
    cmd = [line for line in instructions if line.startswith("CMD ")]
    assert cmd == ['CMD ["lambda_functions.parampreds.lambda_handler"]']
    handler = json.loads(cmd[0][4:])[0]
    fake = {"Resources": {"F": {"Type": "AWS::Lambda::Function", "Properties": {
        "FunctionName": "groves-parampreds", "ImageConfig": {"Command": [handler]}}}}}  # fmt: skip
    assert tc.check_handlers(fake) == []
    assert "JOBLIB_MULTIPROCESSING=0" not in "\n".join(instructions)  # see the Dockerfile


def pinned_requirements() -> dict[str, str]:
    """name -> version of every line of requirements.txt (each must be ``name==version``)."""
    pins = {}
    for raw in REQUIREMENTS.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)", line)
        assert match, f"not pinned with ==: {raw!r}"
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_requirements_are_pinned_minimal_and_cover_the_workers() -> None:
    import importlib.metadata as metadata

    pins = pinned_requirements()
    for banned in ("prefect", "prefect-aws", "matplotlib", "ta-lib", "typer", "rich", "moto"):
        assert banned not in pins, banned
    # Every third-party module that lambda_functions/ imports comes from a pinned package.
    distributions = metadata.packages_distributions()
    imported: set[str] = set()
    for path in (REPO / "lambda_functions").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = sorted(
        m for m in imported - set(sys.stdlib_module_names) - {"lambda_functions", "__future__"}
    )
    assert third_party, "the import scan found nothing: it is broken"
    for module in third_party:
        owners = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
        assert owners & set(pins), f"{module} (from {owners or '?'}) is not in requirements.txt"


# --------------------------------------------------------------------------- (f) slow


def image_python() -> str:
    """A CPython 3.12 interpreter (the image's version) if this machine has one, else ours."""
    candidates = [os.environ.get("GROVES_IMAGE_PYTHON", "")]
    for root in (os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")):
        if root:
            candidates += sorted(glob(f"{root}/versions/{IMAGE_PYTHON}*/bin/python{IMAGE_PYTHON}"))
    candidates += [f"/usr/bin/python{IMAGE_PYTHON}", f"/usr/local/bin/python{IMAGE_PYTHON}"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    warnings.warn(
        f"no Python {IMAGE_PYTHON} found (the image's version): testing the image's "
        f"requirements with {sys.version.split()[0]} instead",
        stacklevel=2,
    )
    return sys.executable


def uv_binary() -> str:
    for candidate in (Path(sys.executable).parent / "uv", REPO / ".venv" / "bin" / "uv"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("uv")
    if not found:
        pytest.skip("uv is not installed (make installs it into .venv)")
    return found


# Runs inside the fresh venv: import every worker, then process one stock and train one
# grove on the local store, as the image would on S3.
IMAGE_SMOKE = r"""
import importlib, importlib.util, json, sys
for banned in ("prefect", "matplotlib", "talib", "moto"):
    assert importlib.util.find_spec(banned) is None, f"{banned} leaked into the image venv"
names = sys.argv[1].split(",")
for name in names:
    module = importlib.import_module("lambda_functions." + name)
    assert callable(module.lambda_handler), name
from lambda_functions import parampreds, processing
store, stock = sys.argv[2], sys.argv[3]
first = processing.lambda_handler({"store": store, "stock": stock})
second = parampreds.lambda_handler({"store": store, "stock": stock, "feat": 5, "samp": 5,
                                    "n_estimators": 4, "pred_num": 0, "n_jobs": 1})
import numpy, pandas, sklearn
print(json.dumps({"imported": names, "statuses": [first["status"], second["status"]],
                  "python": sys.version.split()[0], "prefix": sys.prefix,
                  "versions": [numpy.__version__, pandas.__version__, sklearn.__version__]}))
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_image_requirements_suffice(tmp_path: Path, raw_dir: Path) -> None:
    """Only requirements.txt, in a fresh venv: the wheels exist for the image's platform,
    and every worker imports and runs (without the system time-zone database, like the
    minimal base image)."""
    uv, python = uv_binary(), image_python()
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_PYTHON_DOWNLOADS"] = "never"  # use this machine's interpreters only
    started = time.monotonic()

    def run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(args, capture_output=True, text=True, timeout=240, **kwargs)
        assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout}\n{done.stderr}"
        return done

    # 1. The pins resolve to exactly themselves, from wheels, for CPython 3.12 on Amazon
    #    Linux 2023 (glibc 2.34): requirements.txt is a closed, installable set.
    resolved = run(
        uv, "pip", "compile", str(REQUIREMENTS), "--python-version", IMAGE_PYTHON,
        "--python-platform", "x86_64-manylinux_2_34", "--only-binary", ":all:",
        "--no-header", "--no-annotate", "--quiet", env=env,
    )  # fmt: skip
    lines = [line.strip() for line in resolved.stdout.splitlines() if "==" in line]
    resolved_pins = {
        name.lower().replace("_", "-"): version
        for name, version in (line.split("==", 1) for line in lines)
    }
    assert resolved_pins == pinned_requirements()

    # 2. A fresh venv with nothing but requirements.txt.
    venv = tmp_path / "image-venv"
    run(uv, "venv", "--quiet", "--python", python, str(venv), env=env)
    venv_python = str(venv / "bin" / "python")
    run(uv, "pip", "install", "--quiet", "--python", venv_python, "-r", str(REQUIREMENTS), env=env)

    # 3. Import every worker and run two of them on a local store.
    store = tmp_path / "store"
    (store / "raw").mkdir(parents=True)
    stock = "RELIANCE"
    raw_name = f"{stock}_minute_data_with_indicators.csv"
    shutil.copy(raw_dir / raw_name, store / "raw" / raw_name)
    smoke_env = {key: value for key, value in env.items() if not key.startswith("PYTHON")}
    smoke_env |= {"PYTHONPATH": str(REPO), "PYTHONTZPATH": "", "PYTHONNOUSERSITE": "1"}
    done = run(
        venv_python, "-c", IMAGE_SMOKE, ",".join(tc.FUNCTIONS), str(store), stock,
        env=smoke_env, cwd=tmp_path,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"] == list(tc.FUNCTIONS)
    assert result["statuses"] == ["ok", "ok"]
    assert Path(result["prefix"]).resolve() == venv.resolve()
    if python != sys.executable:
        assert result["python"].startswith(IMAGE_PYTHON + "."), result
    pins = pinned_requirements()
    assert result["versions"] == [pins["numpy"], pins["pandas"], pins["scikit-learn"]]
    elapsed = time.monotonic() - started
    assert elapsed < 240, f"took {elapsed:.0f} s"


def test_seed_buckets_access_is_conditional_and_never_every_bucket(
    sam_template: dict[str, Any],
) -> None:
    import re

    policy = sam_template["Resources"]["SeedBucketsAccess"]
    assert policy["Condition"] == "HasSeedBuckets"
    assert sam_template["Parameters"]["SeedMainBucket"]["Default"] == ""  # off by default
    pattern = re.compile(sam_template["Parameters"]["SeedStockBuckets"]["AllowedPattern"])
    for good in ("*-ds5110s3bucket", "myteam-*-groves", "exact-bucket"):
        assert pattern.fullmatch(good), good
    for bad in ("*", "ab*", "**-x", "*-*-groves", "Upper*-x"):
        assert not pattern.fullmatch(bad), bad
    main = re.compile(sam_template["Parameters"]["SeedMainBucket"]["AllowedPattern"])
    assert main.fullmatch("ds5110s3") and not main.fullmatch("*")
