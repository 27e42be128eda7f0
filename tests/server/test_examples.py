"""The gate examples of examples/service: their fields are the tools' real ones, and their success
conditions, evaluated against real answers of the running service, pass a healthy demo and fail
a broken one (fault ``database-down``).

Field names are those of the tools' own sources: Flagger ``pkg/apis/flagger/v1beta1/canary.go``
(``CanaryWebhook``, ``CanaryWebhookPayload``, ``HookType``), Argo Rollouts
``pkg/apis/rollouts/v1alpha1/analysis_types.go`` (``Metric``, ``WebMetric``,
``WebMetricHeader``), and the ``InvokeRESTAPI@1`` task's reference (learn.microsoft.com,
"InvokeRESTAPI@1 - Invoke REST API v1 task"). Each tool is played the way it calls:

- Flagger POSTs ``{"name", "namespace", "phase", "checksum", "metadata"}`` with no header and
  counts any 2xx as success.
- Argo's ``web`` provider sends ``jsonBody`` with the headers (``{{args.X}}`` filled in), treats
  a non-2xx as an error, reads the result with a Kubernetes JSONPath and evaluates
  ``successCondition`` (an expr expression). The JSONPath here is always ``{$.a.b}``: it is
  translated to the JMESPath ``a.b`` (jmespath is a dependency already); the condition's ``||``,
  ``&&``, ``==`` and ``!=`` to Python's, evaluated over ``result`` only.
- Azure's task sends ``headers`` and ``body`` (``$(VARIABLE)`` macros filled in) to the service
  connection's URL + ``urlSuffix`` and evaluates ``successCriteria`` over ``root``, the JSON
  answer: a tiny evaluator of the functions the examples use (``and``, ``or``, ``not``, ``eq``,
  ``ne``, ``in``; string comparisons ignore case, as Azure's do).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import httpx
import jmespath
import pytest
import yaml

from e2e.servers import needs_postgres_and_redis
from e2e.test_demo_run import base_environment, started_demo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT: Final = Path(__file__).resolve().parents[2]
EXAMPLES: Final = ROOT / "examples" / "service"
FLAGGER: Final = EXAMPLES / "flagger-canary.yaml"
ARGO: Final = EXAMPLES / "argo-analysis-template.yaml"
AZURE: Final = EXAMPLES / "azure-pipelines-gate.yml"
TOKEN: Final = "examples-test-token-0123456789abcdef"
PROFILE: Final = "staging"

# Flagger, pkg/apis/flagger/v1beta1/canary.go
FLAGGER_WEBHOOK_FIELDS: Final = {
    "type", "name", "url", "muteAlert", "timeout", "metadata", "retries", "disableTLS",
}  # fmt: skip
FLAGGER_HOOK_TYPES: Final = {
    "rollout", "pre-rollout", "post-rollout", "confirm-rollout", "confirm-promotion", "event",
    "rollback", "confirm-traffic-increase",
}  # fmt: skip
FLAGGER_ANALYSIS_FIELDS: Final = {
    "interval", "iterations", "mirror", "mirrorWeight", "maxWeight", "stepWeight",
    "stepWeights", "stepWeightPromotion", "threshold", "primaryReadyThreshold",
    "canaryReadyThreshold", "alerts", "metrics", "webhooks", "match", "sessionAffinity",
}  # fmt: skip
# Argo Rollouts, pkg/apis/rollouts/v1alpha1/analysis_types.go
ARGO_METRIC_FIELDS: Final = {
    "name", "interval", "initialDelay", "count", "successCondition", "failureCondition",
    "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "provider",
    "consecutiveSuccessLimit",
}  # fmt: skip
ARGO_WEB_FIELDS: Final = {
    "method", "url", "headers", "body", "timeoutSeconds", "jsonPath", "insecure", "jsonBody",
    "authentication",
}  # fmt: skip
# InvokeRESTAPI@1's inputs and their aliases
AZURE_TASK_INPUTS: Final = {
    "connectionType", "connectedServiceNameSelector", "serviceConnection",
    "connectedServiceName", "genericService", "azureServiceConnection",
    "connectedServiceNameARM", "azureSubscription", "method", "headers", "body", "urlSuffix",
    "waitForCompletion", "successCriteria",
}  # fmt: skip


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), path
    return document


def flagger_webhooks() -> list[dict[str, Any]]:
    return list(load(FLAGGER)["spec"]["analysis"]["webhooks"])


def argo_metric() -> dict[str, Any]:
    [metric] = load(ARGO)["spec"]["metrics"]
    return dict(metric)


def azure_task() -> dict[str, Any]:
    tasks = [
        (job, step)
        for stage in load(AZURE)["stages"]
        for job in stage["jobs"]
        for step in job.get("steps", ())
        if str(step.get("task", "")).startswith("InvokeRESTAPI@")
    ]
    [(job, step)] = tasks
    assert job["pool"] == "server", "InvokeRESTAPI runs only in an agentless job (pool: server)"
    assert step["task"] == "InvokeRESTAPI@1"
    return dict(step["inputs"])


def default_max_wait() -> float:
    """The longest ``?wait=`` the service takes by default (``SMOKE_SERVER_MAX_WAIT``)."""
    from pytest_smoke.server.settings import ServerSettings

    return float(ServerSettings.model_fields["max_wait"].default)


# -- the fields are the tools' real ones ----------------------------------------------------


def test_the_flagger_canary_uses_flaggers_fields() -> None:
    canary = load(FLAGGER)
    assert (canary["apiVersion"], canary["kind"]) == ("flagger.app/v1beta1", "Canary")
    assert set(canary["spec"]["analysis"]) <= FLAGGER_ANALYSIS_FIELDS
    webhooks = flagger_webhooks()
    assert {hook["type"] for hook in webhooks} == {"pre-rollout", "rollout"}
    for hook in webhooks:
        assert set(hook) <= FLAGGER_WEBHOOK_FIELDS, hook
        assert hook["type"] in FLAGGER_HOOK_TYPES
        assert urlsplit(hook["url"]).path == f"/flagger/{PROFILE}"
        assert re.fullmatch(r"\d+[smh]", hook["timeout"]), "a Go duration"
        # metadata is a map[string]string: a YAML true or 1 would fail the Canary's validation
        assert all(isinstance(value, str) for value in hook["metadata"].values()), hook
        assert "token" in hook["metadata"]


def test_the_argo_template_uses_the_web_providers_fields() -> None:
    template = load(ARGO)
    assert (template["apiVersion"], template["kind"]) == (
        "argoproj.io/v1alpha1",
        "AnalysisTemplate",
    )
    metric = argo_metric()
    assert set(metric) <= ARGO_METRIC_FIELDS
    web = metric["provider"]["web"]
    assert set(metric["provider"]) == {"web"}
    assert set(web) <= ARGO_WEB_FIELDS
    assert web["method"] == "POST"
    assert "body" not in web, "body and jsonBody together are an error"
    assert isinstance(web["jsonBody"], dict)
    assert all(set(header) == {"key", "value"} for header in web["headers"])
    assert web["jsonPath"] == "{$.verdict}"
    assert metric["successCondition"] == 'result == "PROCEED" || result == "MONITOR"'
    # every {{args.X}} is an argument of the template, the token one from a Secret
    args = {arg["name"]: arg for arg in template["spec"]["args"]}
    used = set(re.findall(r"\{\{\s*args\.([\w-]+)\s*\}\}", json.dumps(web)))
    assert used
    assert used <= set(args)
    assert all("secretKeyRef" in args[name]["valueFrom"] for name in used)
    # the provider's own timeout outlasts the service's wait, itself within the service's bound
    wait = float(re.search(r"[?&]wait=(\d+)", web["url"]).group(1))  # type: ignore[union-attr]
    assert web["timeoutSeconds"] > wait
    assert wait <= default_max_wait()


def test_the_azure_gate_uses_the_tasks_inputs() -> None:
    inputs = azure_task()
    assert set(inputs) <= AZURE_TASK_INPUTS
    assert inputs["connectionType"] == "connectedServiceName"
    assert inputs["method"] == "POST"
    assert inputs["waitForCompletion"] == "false", "successCriteria applies only then"
    assert json.loads(inputs["headers"])["Authorization"] == "Bearer $(SMOKE_SERVER_TOKEN)"
    assert json.loads(inputs["body"])["profile"] == PROFILE
    assert inputs["urlSuffix"].startswith("/runs?wait=")
    assert float(inputs["urlSuffix"].partition("wait=")[2]) <= default_max_wait()


def test_the_azure_check_in_the_readme_has_the_tasks_inputs() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    [block] = re.findall(r"```json\n(\{\n.*?\n\})\n```", readme, flags=re.S)
    check = json.loads(block)
    inputs = azure_task()
    assert check.pop("connectedServiceName") == inputs["serviceConnection"]
    assert check == {
        key: " ".join(value.split()) if key in ("headers", "body") else value
        for key, value in inputs.items()
        if key in check
    }


# -- the tools' evaluation, played here -------------------------------------------------------


def argo_result(answer: Any, json_path: str) -> Any:
    """Argo's ``jsonPath`` over the answer: ``{$.a.b}`` is the JMESPath ``a.b``."""
    match = re.fullmatch(r"\{\$\.([\w.]+)\}", json_path)
    assert match, f"translate {json_path!r} by hand first"
    return jmespath.search(match.group(1), answer)


def argo_condition(condition: str, result: Any) -> bool:
    """An expr ``successCondition`` of ``||``, ``&&``, ``==``, ``!=`` over ``result``."""
    source = condition.replace("||", " or ").replace("&&", " and ")
    assert "!" not in source.replace("!=", ""), f"translate {condition!r} by hand first"
    tree = ast.parse(source, mode="eval")
    allowed = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.Eq, ast.NotEq,
               ast.Name, ast.Constant, ast.Load)  # fmt: skip
    assert all(isinstance(node, allowed) for node in ast.walk(tree)), condition
    assert {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} <= {"result"}
    return bool(eval(compile(tree, "<successCondition>", "eval"), {}, {"result": result}))


def azure_criteria(expression: str, root: Any) -> bool:
    """Azure's ``successCriteria`` over the JSON answer ``root``."""
    value, end = _azure_value(expression, 0, root)
    assert expression[end:].strip() == "", expression
    return bool(value)


def _azure_value(text: str, at: int, root: Any) -> tuple[Any, int]:
    at = len(text) - len(text[at:].lstrip())
    if text.startswith("root", at):
        value, at = root, at + 4
        while (match := re.match(r"\['((?:[^']|'')*)'\]", text[at:])) is not None:
            value = (
                value.get(match.group(1).replace("''", "'")) if isinstance(value, dict) else None
            )
            at += match.end()
        return value, at
    if text[at] == "'":
        match = re.match(r"'((?:[^']|'')*)'", text[at:])
        assert match
        return match.group(1).replace("''", "'"), at + match.end()
    match = re.match(r"(\w+)\(", text[at:])
    assert match, f"unexpected at {text[at:]!r}"
    name, at = match.group(1).lower(), at + match.end()
    args: list[Any] = []
    while True:
        value, at = _azure_value(text, at, root)
        args.append(value)
        at = len(text) - len(text[at:].lstrip())
        if text[at] == ")":
            at += 1
            break
        assert text[at] == ",", text[at:]
        at += 1

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, str) and isinstance(b, str):
            return a.lower() == b.lower()
        return bool(a == b)

    functions: dict[str, Callable[..., Any]] = {
        "and": lambda *a: all(a),
        "or": lambda *a: any(a),
        "not": lambda a: not a,
        "eq": same,
        "ne": lambda a, b: not same(a, b),
        "in": lambda a, *rest: any(same(a, b) for b in rest),
    }
    assert name in functions, f"{name}() not translated"
    return functions[name](*args), at


def test_the_translations_follow_the_tools_rules() -> None:
    assert argo_result({"verdict": "MONITOR", "a": {"b": 1}}, "{$.a.b}") == 1
    assert argo_condition('result == "PROCEED" || result == "MONITOR"', "MONITOR")
    assert not argo_condition('result == "PROCEED" || result == "MONITOR"', None)
    criteria = "or(eq(root['verdict'], 'PROCEED'), eq(root['verdict'], 'MONITOR'))"
    assert azure_criteria(criteria, {"verdict": "proceed"})  # Azure compares ignoring case
    assert not azure_criteria(criteria, {"verdict": "ROLLBACK"})
    assert not azure_criteria(criteria, {"state": "running"})
    assert azure_criteria("and(ne(root['a']['b'], 'x'), in(root['c'], 'y', 'z'))",
                          {"a": {"b": "w"}, "c": "Z"})  # fmt: skip


# -- against the running service ---------------------------------------------------------------


@pytest.fixture(scope="module", params=["healthy", "database-down"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """``smoke-gate serve`` (a child process) with the demo (healthy or with the fault
    ``database-down``) as its profile ``staging``: (base URL, the deployment)."""
    pytest.importorskip("fastapi", reason="the service needs the server extra")
    from .test_app import running_service, service_environment

    deployment = str(request.param)
    tmp_path = tmp_path_factory.mktemp(deployment)
    fault = None if deployment == "healthy" else deployment
    with started_demo(tmp_path, base_environment(tmp_path), fault) as demo:
        profiles = tmp_path / "profiles"
        profiles.mkdir()
        shutil.copy(demo.profile, profiles / f".env.{PROFILE}")
        environment = service_environment(tmp_path, token=TOKEN, run_timeout="240")
        with running_service(tmp_path, profiles, environment=environment) as running:
            yield running.url, deployment


def at(base: str, url: str) -> str:
    """``url`` of an example, with the service's address instead of the example's host."""
    parts = urlsplit(url)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


@needs_postgres_and_redis
@pytest.mark.parametrize("hook", ["pre-rollout", "rollout"])
def test_flagger_gets_2xx_from_a_healthy_deployment_only(
    service: tuple[str, str], hook: str
) -> None:
    base, deployment = service
    [webhook] = [w for w in flagger_webhooks() if w["type"] == hook]
    metadata = {**webhook["metadata"], "token": TOKEN}
    payload = {
        "name": load(FLAGGER)["metadata"]["name"],
        "namespace": load(FLAGGER)["metadata"]["namespace"],
        "phase": "Progressing",
        "checksum": "85d557f47b",
        "metadata": metadata,
    }
    answer = httpx.post(at(base, webhook["url"]), json=payload, timeout=330)
    body = answer.json()
    if deployment == "healthy":
        assert answer.status_code == 200, body
        assert body["verdict"] in ("PROCEED", "MONITOR")
    else:
        assert not 200 <= answer.status_code < 300, body
        assert answer.status_code == 412
        assert body["verdict"] in ("ROLLBACK", "INVESTIGATE")
        assert body["reasons"]


@needs_postgres_and_redis
def test_argos_success_condition_passes_a_healthy_deployment_only(
    service: tuple[str, str],
) -> None:
    base, deployment = service
    metric = argo_metric()
    web = metric["provider"]["web"]
    headers = {
        header["key"]: re.sub(r"\{\{\s*args\.[\w-]+\s*\}\}", TOKEN, header["value"])
        for header in web["headers"]
    }
    answer = httpx.request(
        web["method"], at(base, web["url"]), json=web["jsonBody"], headers=headers,
        timeout=web["timeoutSeconds"],
    )  # fmt: skip
    assert 200 <= answer.status_code < 300, answer.text  # else Argo records an error
    result = argo_result(answer.json(), web["jsonPath"])
    assert argo_condition(metric["successCondition"], result) is (deployment == "healthy"), result


@needs_postgres_and_redis
def test_azures_success_criteria_pass_a_healthy_deployment_only(
    service: tuple[str, str],
) -> None:
    base, deployment = service
    inputs = azure_task()
    headers = json.loads(inputs["headers"].replace("$(SMOKE_SERVER_TOKEN)", TOKEN))
    answer = httpx.request(
        inputs["method"], base + inputs["urlSuffix"], content=inputs["body"].encode(),
        headers=headers, timeout=330,
    )  # fmt: skip
    assert 200 <= answer.status_code < 300, answer.text
    passed = azure_criteria(inputs["successCriteria"], answer.json())
    assert passed is (deployment == "healthy"), answer.json().get("verdict")


@needs_postgres_and_redis
def test_flagger_without_the_token_is_refused(service: tuple[str, str]) -> None:
    base, _ = service
    [webhook, *_] = flagger_webhooks()
    payload = {"name": "podinfo", "namespace": "test", "phase": "Progressing",
               "checksum": "0", "metadata": {**webhook["metadata"], "token": "wrong"}}  # fmt: skip
    answer = httpx.post(at(base, webhook["url"]), json=payload, timeout=30)
    assert answer.status_code == 401
    assert TOKEN not in answer.text
