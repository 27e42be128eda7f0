"""The bundled suite has the same short test ids wherever it is installed:
``pytest_smoke/suite/test_x.py::test_y``, in the terminal, JUnit and the JSON report, with and
without xdist; from a wheel wherever the venv lives, and from this environment's install (an
editable one in a checkout: the suite is ``src/pytest_smoke/suite``, the same layout)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(
    "venv", "lib", f"python{sys.version_info.major}.{sys.version_info.minor}", "site-packages"
)
PREFIX = "pytest_smoke/suite/"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from this tree and installed (no dependencies) into a
    site-packages directory of its own."""
    build = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(build), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = build.glob("pytest_smoke_gate-*.whl")
    target = tmp_path_factory.mktemp("elsewhere") / SITE
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


class Health(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["venv-inside-the-rootdir", "venv-elsewhere"])
def site_packages(
    request: pytest.FixtureRequest,
    installed: Path,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """Where the inner run imports pytest_smoke from: a venv below the working directory (ids
    were ``venv/lib/.../test_x.py``) or one outside it (ids were ``test_x.py``)."""
    if request.param == "venv-inside-the-rootdir":
        target = pytester.path / SITE
        shutil.copytree(installed, target)
    else:
        target = installed
    monkeypatch.setenv("PYTHONPATH", str(target))
    return target


def suite_run(pytester: pytest.Pytester, gateway: str, *args: str) -> pytest.RunResult:
    pytester.makefile(".toml", checks='[service]\nhealth = ["/health"]\n')
    pytester.makefile(
        ".ids", **{".env": f"GATEWAY_URL={gateway}\nSMOKE_TEST_CHECKS_FILE=checks.toml\n"}
    )
    return pytester.runpytest_subprocess(
        "--pyargs", "pytest_smoke.suite", "--smoke-env", "ids", "-p", "no:cacheprovider", *args
    )


def test_the_installed_suite_is_the_one_collected(
    pytester: pytest.Pytester, gateway: str, site_packages: Path
) -> None:
    result = suite_run(pytester, gateway, "--collect-only", "-q")
    ids = [line for line in result.outlines if "::" in line]
    assert ids, result.stdout.str()
    assert all(line.startswith(PREFIX) for line in ids), ids
    assert f"{PREFIX}test_service_communication.py::test_health_checks" in ids
    # imported from the copy under test, not from the project's own tree
    assert (
        str(site_packages)
        in subprocess.run(
            [sys.executable, "-c", "import pytest_smoke; print(pytest_smoke.__file__)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


@pytest.mark.parametrize("extra", [(), ("-n", "2")], ids=["single", "xdist"])
def test_ids_in_terminal_junit_and_json(
    pytester: pytest.Pytester, gateway: str, site_packages: Path, extra: tuple[str, ...]
) -> None:
    del site_packages
    result = suite_run(
        pytester,
        gateway,
        "-rA",
        "--junitxml",
        "junit.xml",
        "--smoke-report-json",
        "gate.json",
        *extra,
    )
    health = f"{PREFIX}test_service_communication.py::test_health_checks"
    result.stdout.fnmatch_lines([f"PASSED {health}"])
    summary = [
        line.split(" ")[1]
        for line in result.outlines
        if line.startswith(("PASSED ", "FAILED ", "ERROR "))
    ]
    assert summary
    assert all(nodeid.startswith(PREFIX) for nodeid in summary), summary

    document = json.loads((pytester.path / "gate.json").read_text())
    assert health in [test["nodeid"] for test in document["tests"]]
    listed = [test for group in document["not_applicable"] for test in group["tests"]]
    assert listed
    for nodeid in [test["nodeid"] for test in document["tests"]] + listed:
        assert nodeid.startswith(PREFIX), nodeid

    cases = ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    names = {(case.get("classname"), case.get("name")) for case in cases}
    assert ("pytest_smoke.suite.test_service_communication", "test_health_checks") in names
    assert all(str(classname).startswith("pytest_smoke.suite.") for classname, _ in names)


@pytest.mark.parametrize("how", ["pyargs", "path"])
def test_this_environments_suite_has_the_same_ids(
    pytester: pytest.Pytester, gateway: str, how: str
) -> None:
    import pytest_smoke.suite

    suite_dir = Path(pytest_smoke.suite.__file__).parent
    target = ("--pyargs", "pytest_smoke.suite") if how == "pyargs" else (str(suite_dir),)
    pytester.makefile(".toml", checks='[service]\nhealth = ["/health"]\n')
    pytester.makefile(
        ".ids", **{".env": f"GATEWAY_URL={gateway}\nSMOKE_TEST_CHECKS_FILE=checks.toml\n"}
    )
    # By path, pytest takes the rootdir (and ini) from above the suite: name the profile's file.
    profile = str(pytester.path / ".env.ids")
    result = pytester.runpytest_subprocess(
        *target, "--smoke-env-file", profile, "-p", "no:cacheprovider", "--collect-only", "-q"
    )
    ids = [line for line in result.outlines if "::" in line]
    assert f"{PREFIX}test_service_communication.py::test_health_checks" in ids, result.outlines
    assert all(line.startswith(PREFIX) for line in ids), ids
