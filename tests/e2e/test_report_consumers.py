"""The reports as the tools that consume them see them, from real runs of a sample project.

- JUnit, read by junitparser: counts and verdict properties match the verdict JSON, serial, with
  ``-n 2``, and with ``--reruns 1`` (a test that fails once, then passes: INVESTIGATE).
- The pytest-html report, rendered by headless Chromium: the verdict section is in the rendered
  DOM, survives a script-blocking Content-Security-Policy (as Jenkins serves HTML), and a
  screenshot is kept under ``reports/artifacts/``.
- The GitHub step summary, parsed as Markdown by markdown-it-py.
- The verdict JSON, read by the ``jq`` filters examples/argo-rollouts/README.md documents.

One sample run per mode per module (per xdist worker); each run is a subprocess of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_smoke.reports.json_report import SCHEMA_FILE
from pytest_smoke.settings import SPECS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "reports" / "artifacts"
ARGO_README = ROOT / "examples" / "argo-rollouts" / "README.md"

# 8 smoke tests: 6 pass, 1 non-critical one fails, 1 skips -> MONITOR (1 of 7 failed, 14.3%).
SAMPLE = """
    import pytest

    pytestmark = pytest.mark.smoke


    @pytest.mark.critical
    @pytest.mark.service
    def test_health():
        pass


    @pytest.mark.service
    @pytest.mark.parametrize("query", ["name=a*", "tag=b|c"])
    def test_search(query):
        assert query != "tag=b|c", "GET /api/items?tag=b|c -> 500"


    @pytest.mark.service
    def test_crud():
        pass


    @pytest.mark.database
    @pytest.mark.parametrize("check", ["connect", "rollback"])
    def test_db(check):
        pass


    @pytest.mark.redis
    @pytest.mark.parametrize("check", ["pubsub", "ttl"])
    def test_bus(check):
        if check == "ttl":
            pytest.skip("SMOKE_TEST_REDIS_URL is not set")
"""
# Not marked: runs, is in JUnit, is not gated.
UNGATED = """
    def test_helper():
        pass
"""
# Fails on its first attempt, passes on the rerun: the run cannot be trusted, INVESTIGATE.
# Its id holds characters that Markdown and HTML treat as markup.
FLAKY = """
    from pathlib import Path

    import pytest


    @pytest.mark.smoke
    @pytest.mark.parametrize("case", ["a|b"])
    def test_flaky(case):
        marker = Path(__file__).with_name("flaky-ran-once")
        if not marker.exists():
            marker.touch()
            raise AssertionError("first attempt fails")
"""
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
OTHER_STEP = "## Deploy\n\ndeployed v42\n"


@dataclass(frozen=True)
class Mode:
    args: tuple[str, ...]
    flaky: bool = False
    html: bool = False
    summary: bool = False
    verdict: str = "MONITOR"
    status: int = 0


MODES = {
    "serial": Mode((), html=True, summary=True),
    "xdist": Mode(("-n", "2")),
    "reruns": Mode(("--reruns", "1"), flaky=True, summary=True, verdict="INVESTIGATE", status=10),
    "reruns-xdist": Mode(
        ("--reruns", "1", "-n", "2"), flaky=True, verdict="INVESTIGATE", status=10
    ),
}


@dataclass(frozen=True)
class Run:
    mode: Mode
    project: Path
    returncode: int
    output: str

    @property
    def junit(self) -> Path:
        return self.project / "reports" / "junit.xml"

    @property
    def html(self) -> Path:
        return self.project / "reports" / "smoke.html"

    @property
    def summary(self) -> Path:
        return self.project / "step-summary.md"

    @property
    def document(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.project / "reports" / "smoke-gate.json").read_text()
        )
        return data


_OURS = {spec.env for spec in SPECS if spec.env} | {"GITHUB_STEP_SUMMARY", "SMOKE_ENV_FILE"}


def sample_run(mode: Mode, project: Path) -> Run:
    (project / "pytest.ini").write_text(INI)
    (project / "test_sample.py").write_text(textwrap.dedent(SAMPLE))
    (project / "test_helpers.py").write_text(textwrap.dedent(UNGATED))
    if mode.flaky:
        (project / "test_flaky.py").write_text(textwrap.dedent(FLAKY))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _OURS and not key.startswith(("SMOKE_", "AZURE_", "PYTEST_"))
    }
    if mode.summary:
        (project / "step-summary.md").write_text(OTHER_STEP)  # another step's summary
        env["GITHUB_STEP_SUMMARY"] = str(project / "step-summary.md")
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--smoke-gate",
        "--junitxml",
        "reports/junit.xml",
        "--smoke-report-json",
        "reports/smoke-gate.json",
        *mode.args,
    ]
    if mode.html:
        args += ["--html", "reports/smoke.html", "--self-contained-html"]
    result = subprocess.run(
        args, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return Run(mode, project, result.returncode, result.stdout + result.stderr)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Run]:
    """The sample run of a mode, made on first use and shared by the module's tests."""
    done: dict[str, Run] = {}

    def get(name: str) -> Run:
        if name not in done:
            done[name] = sample_run(MODES[name], tmp_path_factory.mktemp(name))
        return done[name]

    return get


@pytest.fixture(params=sorted(MODES))
def run(request: pytest.FixtureRequest, runs: Callable[[str], Run]) -> Run:
    return runs(request.param)


# -- the run and its verdict JSON --------------------------------------------------------------


def test_the_run_exits_with_the_gates_status(run: Run) -> None:
    import jsonschema

    document = run.document
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    assert (document["verdict"], document["exit_code"]) == (run.mode.verdict, run.mode.status)
    assert run.returncode == run.mode.status, run.output
    assert document["pytest_exit_status"] == 1  # pytest's own: a test failed
    assert document["ungated"] == 1
    if run.mode.flaky:
        assert document["flaky"] == ["test_flaky.py::test_flaky[a|b]"]


# -- JUnit, through junitparser ----------------------------------------------------------------


def junit_suite(run: Run) -> Any:
    from junitparser import JUnitXml, TestSuite

    xml = JUnitXml.fromfile(str(run.junit))
    suites = [xml] if isinstance(xml, TestSuite) else list(xml)
    assert len(suites) == 1
    return suites[0]


def junit_properties(run: Run) -> dict[str, str]:
    return {prop.name: prop.value for prop in junit_suite(run).properties()}


def test_junit_counts_and_properties_match_the_verdict_json(run: Run) -> None:
    document, suite = run.document, junit_suite(run)
    totals = document["totals"]
    # The testsuite counts every test once, the ungated one included.
    assert suite.tests == totals["total"] + document["ungated"]
    assert (suite.failures, suite.errors, suite.skipped) == (
        totals["failed"],
        totals["errors"],
        totals["skipped"],
    )
    properties = junit_properties(run)
    assert properties["smoke_gate_verdict"] == document["verdict"]
    assert properties["smoke_gate_exit_code"] == str(document["exit_code"]) == str(run.returncode)
    for key in ("total", "passed", "failed", "errors", "skipped"):
        assert properties[f"smoke_gate_{key}"] == str(totals[key]), key
    assert properties["smoke_gate_failure_rate"] == f"{document['failure_rate']:.4f}"
    reasons = sorted(k for k in properties if k.startswith("smoke_gate_reason_"))
    assert [properties[k] for k in reasons] == document["reasons"]
    for name, counts in document["categories"].items():
        assert properties[f"smoke_gate_category_{name}"] == (
            f"passed={counts['passed']} failed={counts['failed']} errors={counts['errors']} "
            f"skipped={counts['skipped']}"
        )


def junit_outcome(case: Any) -> str:
    if case.is_failure:
        return "failed"
    if case.is_error:
        return "error"
    return "skipped" if case.is_skipped else "passed"


def test_junit_testcases_agree_with_the_verdict_json(run: Run) -> None:
    document, suite = run.document, junit_suite(run)
    cases = list(suite)
    last = {f"{case.classname.replace('.', '/')}.py::{case.name}": case for case in cases}
    # pytest-rerunfailures (16.6.1 and later) writes one <testcase> per attempt; the earlier
    # ones carry no result. Counted by name, last attempt wins, every test appears once.
    reruns = sum(test["reruns"] for test in document["tests"])
    assert len(cases) in {suite.tests, suite.tests + reruns}
    assert len(last) == suite.tests
    gated = {test["nodeid"]: test["outcome"] for test in document["tests"]}
    assert {nodeid: junit_outcome(last[nodeid]) for nodeid in gated} == gated
    assert set(last) - set(gated) == {"test_helpers.py::test_helper"}
    if run.mode.flaky:
        (flaky,) = [t for t in document["tests"] if t["nodeid"].startswith("test_flaky.py")]
        assert (flaky["outcome"], flaky["reruns"]) == ("passed", 1)


@pytest.mark.parametrize(("single", "parallel"), [("serial", "xdist"), ("reruns", "reruns-xdist")])
def test_junit_properties_are_the_same_with_xdist(
    runs: Callable[[str], Run], single: str, parallel: str
) -> None:
    assert junit_properties(runs(single)) == junit_properties(runs(parallel))


# -- the HTML report, rendered by Chromium -----------------------------------------------------

_CHROMIUM_TIMEOUT = 90


def chromium_binary() -> str:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.skip("Chromium not found (/usr/bin/chromium; on Debian: apt-get install chromium)")


def chromium(tmp_path: Path, page: Path, *options: str) -> str:
    """Run headless Chromium on ``page`` with a fresh profile; its stdout. Never leaves the
    machine: every host name resolves to nothing, only 127.0.0.1 is left alone."""
    home = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))
    command = [
        chromium_binary(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={home / 'profile'}",
        *options,
        page.as_uri(),
    ]
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    process = subprocess.Popen(  # its own process group, so a hung browser is stopped whole
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=_CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"Chromium did not finish within {_CHROMIUM_TIMEOUT}s: {command}")
    finally:
        with contextlib.suppress(ProcessLookupError):  # helpers (zygote, renderer) left over
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, err[-3000:]
    return out


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str]

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self, tag: str | None = None) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                if tag is None or child.tag == tag:
                    yield child
                yield from child.iter(tag)


class _TreeBuilder(HTMLParser):
    VOID = frozenset(
        "area base br col embed hr img input link meta source track wbr".split()  # noqa: SIM905
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, [])
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, [])
        self.stack[-1].children.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}, []))

    def handle_endtag(self, tag: str) -> None:
        if any(element.tag == tag for element in self.stack[1:]):
            while self.stack.pop().tag != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(text: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def verdict_section(dom: Element) -> Element:
    (section,) = [div for div in dom.iter("div") if div.attrs.get("id") == "smoke-gate"]
    return section


def result_rows(dom: Element) -> set[str]:
    """The ids of the results table's rows: pytest-html 4 builds them with JavaScript."""
    return {
        tbody.attrs["id"]
        for tbody in dom.iter("tbody")
        if "results-table-row" in tbody.attrs.get("class", "") and "id" in tbody.attrs
    }


def check_verdict_section(section: Element, document: dict[str, Any]) -> None:
    assert section.attrs["data-verdict"] == document["verdict"]
    (heading,) = section.iter("h2")
    assert heading.text() == f"Smoke gate: {document['verdict']}"
    assert [li.text() for li in section.iter("li")] == document["reasons"]
    rows = [[td.text() for td in tr.iter("td")] for tr in section.iter("tr")][1:]
    expected = [*document["categories"].items(), ("total", document["totals"])]
    assert rows == [
        [name, *(str(c[key]) for key in ("passed", "failed", "errors", "skipped"))]
        for name, c in expected
    ]


def test_html_verdict_section_is_in_the_rendered_dom(
    runs: Callable[[str], Run], tmp_path: Path
) -> None:
    run = runs("serial")
    dom = parse_html(chromium(tmp_path, run.html, "--dump-dom"))
    check_verdict_section(verdict_section(dom), run.document)
    # The page's JavaScript ran: it built a row for every test, gated or not.
    every_test = {test["nodeid"] for test in run.document["tests"]}
    assert result_rows(dom) == every_test | {"test_helpers.py::test_helper"}
    assert result_rows(parse_html(run.html.read_text())) == set()  # not in the file itself


def test_html_verdict_section_shows_when_scripts_are_blocked(
    runs: Callable[[str], Run], tmp_path: Path
) -> None:
    """Jenkins' HTML Publisher serves reports with a CSP that blocks scripts: the results
    table stays empty, the verdict section (plain HTML) still shows."""
    run = runs("serial")
    page = tmp_path / "smoke-csp.html"
    policy = "default-src 'none'; img-src 'self'; style-src 'self';"
    page.write_text(
        run.html.read_text().replace(
            "<head>", f'<head><meta http-equiv="Content-Security-Policy" content="{policy}">', 1
        )
    )
    dom = parse_html(chromium(tmp_path, page, "--dump-dom"))
    assert result_rows(dom) == set()  # the policy held: no script ran
    check_verdict_section(verdict_section(dom), run.document)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_html_screenshot_is_kept_as_an_artifact(
    runs: Callable[[str], Run], tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    run = runs("serial")
    shot = tmp_path / "html-verdict.png"
    chromium(tmp_path, run.html, f"--screenshot={shot}", "--window-size=1280,2000")
    assert png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    kept = ARTIFACTS / "html-verdict.png"
    staged = ARTIFACTS / f".html-verdict-{os.getpid()}.png"
    shutil.copyfile(shot, staged)
    staged.replace(kept)  # atomic: a parallel run never sees half a file
    record_property("screenshot", str(kept))
    print(f"screenshot of the HTML report's verdict section: {kept}")


# -- the GitHub step summary, through markdown-it-py -------------------------------------------


def markdown_tokens(text: str) -> list[Any]:
    markdown_it = pytest.importorskip(
        "markdown_it", reason="markdown-it-py is not installed (pip install 'markdown-it-py>=3')"
    )
    tokens: list[Any] = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)
    return tokens


def inline_text(token: Any) -> str:
    """The text of an inline token, markup and escapes resolved."""
    return "".join(child.content for child in token.children or [] if child.type == "text")


def blocks(tokens: list[Any], opening: str) -> Iterator[list[Any]]:
    """The tokens of every block that ``opening`` (e.g. "table_open") starts."""
    closing, depth, current = opening.replace("_open", "_close"), 0, []
    for token in tokens:
        if token.type == opening:
            depth += 1
        if depth:
            current.append(token)
        if token.type == closing:
            depth -= 1
            if not depth:
                yield current
                current = []


@pytest.mark.parametrize("name", ["serial", "reruns"])
def test_step_summary_is_markdown_with_the_verdict(runs: Callable[[str], Run], name: str) -> None:
    run = runs(name)
    document = run.document
    text = run.summary.read_text()
    assert text.startswith(OTHER_STEP)  # the other step's summary is kept
    tokens = markdown_tokens(text)

    headings = [
        (token.tag, inline_text(tokens[i + 1]))
        for i, token in enumerate(tokens)
        if token.type == "heading_open"
    ]
    assert headings[0] == ("h2", "Deploy")
    (gate,) = headings[1:]
    assert gate[0] == "h2"
    assert re.fullmatch(rf":[a-z_]+: Smoke gate: {document['verdict']}", gate[1])

    paragraphs = [
        inline_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "paragraph_open"
    ]
    assert "Reasons" in paragraphs
    (reasons,) = blocks(tokens, "bullet_list_open")
    items = [inline_text(t) for t in reasons if t.type == "inline"]
    assert items == document["reasons"]  # escaped ids (_ | [ ]) read back exactly

    (table,) = blocks(tokens, "table_open")
    header = [inline_text(t) for t in next(blocks(table, "thead_open")) if t.type == "inline"]
    assert header == ["category", "passed", "failed", "errors", "skipped"]
    (body,) = blocks(table, "tbody_open")
    rows = [[inline_text(t) for t in row if t.type == "inline"] for row in blocks(body, "tr_open")]
    expected = [*document["categories"].items(), ("total", document["totals"])]
    assert rows == [
        [category, *(str(c[key]) for key in ("passed", "failed", "errors", "skipped"))]
        for category, c in expected
    ]
    numeric = [t.attrGet("style") for t in body if t.type == "td_open"]
    assert numeric.count("text-align:right") == 4 * len(rows)  # the counts align right

    rate = f"{document['failure_rate'] * 100:.1f}%"
    assert f"Failure rate: {rate} · exit status: {document['exit_code']}" in paragraphs


# -- the verdict JSON, through the jq filters the Argo Rollouts README documents ---------------


def readme_jq_commands() -> list[str]:
    fenced = re.findall(r"```bash\n(.*?)```", ARGO_README.read_text(), re.DOTALL)
    return [line for block in fenced for line in block.splitlines() if line.startswith("jq ")]


def test_readme_jq_filters_read_a_real_verdict(runs: Callable[[str], Run]) -> None:
    jq = shutil.which("jq")
    if not jq:
        pytest.skip("jq not found (Debian: apt-get install jq)")
    path = runs("serial").project / "reports" / "smoke-gate.json"
    commands = readme_jq_commands()
    assert len(commands) >= 5
    statuses = {}
    for command in commands:
        args = shlex.split(command)
        assert args[-1] == "reports/smoke-gate.json", command
        result = subprocess.run(
            [jq, *args[1:-1], str(path)], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode in (0, 1), f"{command}: {result.stderr}"  # 2+: a bad filter
        assert result.stderr == "", command
        statuses[args[-2]] = result.returncode
    # The sample run is MONITOR: the strict gate says no, the exit-status gate says yes.
    assert statuses['.verdict == "PROCEED"'] == 1
    assert statuses[".exit_code == 0"] == 0
    assert statuses[".schema_version == 1"] == 0
