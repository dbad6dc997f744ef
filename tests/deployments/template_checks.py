"""Offline checks of deployments/template.yaml: expansion, cfn-lint, limits, handlers, IAM.

Every ``check_*`` function takes a CloudFormation template (a dict, normally the SAM
expansion of ours) and returns a list of problems as readable strings: empty means the
check passed. The tests run them on the real template and on mutated copies, so each check
is shown to be able to fail.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_functions.stages import FUNCTIONS

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deployments" / "template.yaml"
REGION = "us-east-1"
FAKE_IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/groves:test"

NAME_PREFIX = "groves-"
BUCKET_ID = "StoreBucket"  # logical id of the project store

# AWS Lambda's limits (and our policy for retries and architecture).
MEMORY_MB = (128, 10240)
TIMEOUT_S = (1, 900)
EPHEMERAL_MB = (512, 10240)
MAX_RETRY_ATTEMPTS = 0  # Prefect owns retries
ARCHITECTURES = ["x86_64"]

_HANDLER = re.compile(r"^(lambda_functions\.[a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$")

# --------------------------------------------------------------------------- loading


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """Parse a SAM/CloudFormation YAML template (short-form tags become Fn:: dicts)."""
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(path.read_text())


def expand(
    sam_template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The CloudFormation that the SAM transform makes of ``sam_template``, offline.

    ``parameters`` are the deploy-time values (ImageUri gets a fake ECR URI by default).
    No AWS call is made: the region comes from a local boto3 session and managed-policy
    names are not looked up (our template uses none).
    """
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    values = {"ImageUri": FAKE_IMAGE_URI, **(parameters or {})}
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    try:
        return translator.translate(
            copy.deepcopy(dict(sam_template)), parameter_values=values, get_managed_policy_map=dict
        )
    finally:
        translator.metrics.publish()  # to its dummy publisher (else it warns when collected)


@dataclass(frozen=True)
class LintResult:
    rule: str
    severity: str  # error | warning | informational
    message: str
    line: int

    def __str__(self) -> str:
        return f"{self.rule} (line {self.line}): {self.message}"


def lint(template: Mapping[str, Any] | str | Path) -> list[LintResult]:
    """cfn-lint (all default rules, region us-east-1) on a file, a YAML/JSON text or a dict."""
    from cfnlint.api import ManualArgs, lint, lint_file

    config = ManualArgs(regions=[REGION])
    if isinstance(template, Path):
        matches = lint_file(template, config=config)
    else:
        text = template if isinstance(template, str) else json.dumps(template, indent=1)
        matches = lint(text, config=config)
    return [
        LintResult(m.rule.id, m.rule.severity.lower(), m.message, m.linenumber) for m in matches
    ]


# --------------------------------------------------------------------------- helpers


def resolve(value: Any, template: Mapping[str, Any], parameters: Mapping[str, Any]) -> Any:
    """A property's value, with a ``Ref`` to a parameter replaced by its deploy-time value
    (given, else the parameter's Default). Anything else is returned as is."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = value["Ref"]
        spec = template.get("Parameters", {}).get(name)
        if spec is None:
            return value
        raw = parameters.get(name, spec.get("Default"))
        if spec.get("Type") == "Number" and raw is not None:
            return float(raw) if "." in str(raw) else int(raw)
        return raw
    return value


def parameter_spec(value: Any, template: Mapping[str, Any]) -> tuple[str, dict] | None:
    """(name, definition) when ``value`` is a Ref to a template parameter."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        spec = template.get("Parameters", {}).get(value["Ref"])
        if spec is not None:
            return value["Ref"], spec
    return None


def functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of every AWS::Lambda::Function."""
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Lambda::Function"
    }


def _function_of(ref: Any) -> str | None:
    """Logical id named by an EventInvokeConfig's FunctionName (Ref or GetAtt)."""
    if isinstance(ref, dict) and "Ref" in ref:
        return ref["Ref"]
    if isinstance(ref, dict) and "Fn::GetAtt" in ref:
        target = ref["Fn::GetAtt"]
        return target[0] if isinstance(target, list) else str(target).split(".")[0]
    return None


def render(value: Any) -> str | None:
    """An IAM Resource as a comparable string: ``${Bucket.Arn}/*``, ``arn:...``; None if
    it is built in a way this checker does not understand (treated as a problem)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref" and isinstance(arg, str):
            return "${" + arg + "}"
        if fn == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return "${" + ".".join(str(p) for p in parts) + "}"
        if fn == "Fn::Sub":
            if isinstance(arg, str):
                return arg
            text, variables = arg[0], arg[1] if len(arg) > 1 else {}
            for name, var in variables.items():
                rendered = render(var)
                if rendered is None:
                    return None
                text = text.replace("${" + name + "}", rendered)
            return text
        if fn == "Fn::Join":
            separator, items = arg
            if not isinstance(items, list):
                return None
            parts = [render(item) for item in items]
            return None if None in parts else separator.join(parts)  # type: ignore[arg-type]
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(template: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every policy document in the template, with where it is.

    A policy document is any mapping with a ``Statement`` key, wherever it sits (role
    inline policies, AWS::IAM::Policy / ManagedPolicy, bucket and queue policies, trust
    policies), so a new kind of policy resource cannot slip past the checks.
    """

    def walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, dict):
            if "Statement" in node:
                for i, statement in enumerate(_as_list(node["Statement"])):
                    yield f"{path}.Statement[{i}]", statement
                return
            for key, child in node.items():
                yield from walk(child, f"{path}.{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                yield from walk(child, f"{path}[{i}]")

    for logical_id, resource in template.get("Resources", {}).items():
        yield from walk(resource.get("Properties", {}), logical_id)


# --------------------------------------------------------------------------- checks


def check_function_set(template: Mapping[str, Any]) -> list[str]:
    """Exactly the registered workers (one per stage), named groves-<name>."""
    names = {props.get("FunctionName") for props in functions(template).values()}
    expected = {NAME_PREFIX + name for name in FUNCTIONS}
    problems = []
    if missing := sorted(expected - names, key=str):
        problems.append(f"missing functions: {missing}")
    if extra := sorted(names - expected, key=str):
        problems.append(f"unexpected functions: {extra}")
    return problems


def _check_range(
    where: str,
    label: str,
    raw: Any,
    bounds: tuple[int, int],
    template: Mapping[str, Any],
    parameters: Mapping[str, Any],
) -> list[str]:
    low, high = bounds
    value = resolve(raw, template, parameters)
    problems = []
    if not isinstance(value, int | float) or isinstance(value, bool):
        return [f"{where}: {label} {raw!r} is not a number this check can resolve"]
    if not low <= value <= high:
        problems.append(f"{where}: {label} {value} is outside Lambda's limits {low}-{high}")
    if spec := parameter_spec(raw, template):
        # A deploy-time override must not be able to leave the limits either.
        name, definition = spec
        lo, hi = definition.get("MinValue"), definition.get("MaxValue")
        if lo is None or hi is None or float(lo) < low or float(hi) > high:
            problems.append(
                f"{where}: {label} comes from parameter {name} whose MinValue/MaxValue "
                f"({lo}, {hi}) do not keep it within {low}-{high}"
            )
    return problems


def check_function_limits(
    template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None
) -> list[str]:
    """Memory, timeout, /tmp size within Lambda's limits; x86_64; container image."""
    params = parameters or {}
    problems = []
    for logical_id, props in sorted(functions(template).items()):
        problems += _check_range(
            logical_id, "MemorySize", props.get("MemorySize", 128), MEMORY_MB, template, params
        )
        problems += _check_range(
            logical_id, "Timeout", props.get("Timeout", 3), TIMEOUT_S, template, params
        )
        size = props.get("EphemeralStorage", {}).get("Size", 512)
        problems += _check_range(
            logical_id, "EphemeralStorage", size, EPHEMERAL_MB, template, params
        )
        if props.get("Architectures", ["x86_64"]) != ARCHITECTURES:
            problems.append(
                f"{logical_id}: Architectures {props.get('Architectures')} != {ARCHITECTURES}"
            )
        if props.get("PackageType") != "Image":
            problems.append(f"{logical_id}: PackageType {props.get('PackageType')!r} != 'Image'")
        env = props.get("Environment", {}).get("Variables", {})
        if "GROVES_N_JOBS" not in env:
            problems.append(f"{logical_id}: no GROVES_N_JOBS in Environment")
    return problems


def check_event_invoke_configs(template: Mapping[str, Any]) -> list[str]:
    """Every function: one EventInvokeConfig, no Lambda retries, an OnFailure destination."""
    resources = template.get("Resources", {})
    configs: dict[str, list[dict[str, Any]]] = {}
    for resource in resources.values():
        if resource.get("Type") == "AWS::Lambda::EventInvokeConfig":
            props = resource.get("Properties", {})
            configs.setdefault(_function_of(props.get("FunctionName")) or "?", []).append(props)
    problems = []
    for logical_id in sorted(functions(template)):
        found = configs.get(logical_id, [])
        if len(found) != 1:
            problems.append(f"{logical_id}: {len(found)} EventInvokeConfig(s), expected 1")
            continue
        props = found[0]
        retries = props.get("MaximumRetryAttempts")
        if retries != MAX_RETRY_ATTEMPTS:
            problems.append(
                f"{logical_id}: MaximumRetryAttempts {retries!r} != {MAX_RETRY_ATTEMPTS} "
                "(Prefect owns retries; Lambda's default of 2 would duplicate work)"
            )
        age = props.get("MaximumEventAgeInSeconds")
        if not isinstance(age, int) or not 60 <= age <= 21600:
            problems.append(f"{logical_id}: MaximumEventAgeInSeconds {age!r} not in 60-21600")
        if not props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"):
            problems.append(f"{logical_id}: no OnFailure destination")
    return problems


def check_handlers(template: Mapping[str, Any]) -> list[str]:
    """Each ImageConfig.Command names an importable, callable handler of its own worker."""
    problems = []
    for logical_id, props in sorted(functions(template).items()):
        command = props.get("ImageConfig", {}).get("Command")
        if not (isinstance(command, list) and len(command) == 1 and isinstance(command[0], str)):
            problems.append(f"{logical_id}: ImageConfig.Command {command!r} is not [handler]")
            continue
        match = _HANDLER.match(command[0])
        if not match:
            problems.append(
                f"{logical_id}: handler {command[0]!r} is not lambda_functions.<module>.<function>"
            )
            continue
        module_name, attribute = match.groups()
        name = props.get("FunctionName", "")
        if name != NAME_PREFIX + module_name.split(".")[-1]:
            problems.append(f"{logical_id}: function {name!r} runs another worker's {module_name}")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            problems.append(f"{logical_id}: cannot import {module_name}: {exc!r}")
            continue
        if not callable(getattr(module, attribute, None)):
            problems.append(f"{logical_id}: {module_name} has no callable {attribute!r}")
    return problems


# IAM actions that have no resource type ("*" is the only Resource IAM accepts for them),
# with why the orchestrator needs each. A statement may use "*" only for these, alone.
ACCOUNT_LEVEL_ACTIONS = {
    "lambda:GetAccountSettings": "the account's unreserved concurrency caps a run",
}


def _is_broad(resource: str) -> bool:
    """'*', or an ARN whose resource part is only a wildcard (arn:aws:s3:::*)."""
    if resource.strip() == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[5].strip() in ("", "*")


SEED_BUCKET_PARAMETERS = ("SeedMainBucket", "SeedStockBuckets")  # the seed layout's


def _allowed_s3(bucket: str) -> set[str]:
    allowed = {
        "${" + bucket + ".Arn}",
        "${" + bucket + ".Arn}/*",
        "arn:${AWS::Partition}:s3:::${" + bucket + "}",
        "arn:${AWS::Partition}:s3:::${" + bucket + "}/*",
        "arn:aws:s3:::${" + bucket + "}",
        "arn:aws:s3:::${" + bucket + "}/*",
    }
    for name in SEED_BUCKET_PARAMETERS:  # parameters whose AllowedPattern forbids "*"
        allowed.add("arn:${AWS::Partition}:s3:::${" + name + "}")
        allowed.add("arn:${AWS::Partition}:s3:::${" + name + "}/*")
    return allowed


def check_iam(template: Mapping[str, Any], bucket_id: str = BUCKET_ID) -> list[str]:
    """No '*' resources (except in statements of `ACCOUNT_LEVEL_ACTIONS` only), no wildcard
    actions, S3 scoped to the project bucket, no managed policies on roles (their
    documents cannot be checked here)."""
    problems = []
    allowed_s3 = _allowed_s3(bucket_id)
    for where, statement in policy_statements(template):
        allow = statement.get("Effect") == "Allow"
        actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
        if allow and "NotResource" in statement:
            problems.append(f"{where}: Allow with NotResource grants nearly everything")
        if allow and "NotAction" in statement:
            problems.append(f"{where}: Allow with NotAction grants nearly everything")
        if allow:
            for action in actions:
                if action == "*" or action.endswith(":*"):
                    problems.append(f"{where}: wildcard action {action!r}")
        if "Resource" not in statement:
            if allow and "Principal" not in statement:  # trust policies have no Resource
                problems.append(f"{where}: Allow statement without Resource")
            continue
        for raw in _as_list(statement["Resource"]):
            rendered = render(raw)
            if rendered is None:
                problems.append(f"{where}: cannot verify Resource {raw!r}")
                continue
            if rendered.strip() == "*" and actions and set(actions) <= set(ACCOUNT_LEVEL_ACTIONS):
                continue  # account-level actions: "*" is the only Resource they take
            if _is_broad(rendered):
                problems.append(f"{where}: Resource {rendered!r} is a wildcard")
            elif any(a.lower().startswith("s3:") for a in actions) and rendered not in allowed_s3:
                problems.append(
                    f"{where}: S3 Resource {rendered!r} is not the project bucket ({bucket_id})"
                )
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::IAM::Role":
            arns = resource.get("Properties", {}).get("ManagedPolicyArns")
            if arns:
                problems.append(
                    f"{logical_id}: managed policies {arns} (e.g. AWSLambdaBasicExecutionRole "
                    "allows logs on '*'); use inline statements scoped to this stack"
                )
    return problems


def check_all(
    template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None
) -> list[str]:
    """Every check above on an expanded template."""
    return (
        check_function_set(template)
        + check_function_limits(template, parameters)
        + check_event_invoke_configs(template)
        + check_handlers(template)
        + check_iam(template)
    )
