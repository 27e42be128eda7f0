"""The wheel ships the bundled suite (`pytest --pyargs pytest_smoke.suite`), the demo deployments
(`smoke-gate demo`) and the `smoke-gate` command."""

from __future__ import annotations

import configparser
import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "pytest_smoke"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built once for the module's tests."""
    directory = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(directory),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = directory.glob("pytest_smoke_gate-*.whl")
    return built


def test_the_wheel_contains_the_suite_the_demo_and_the_command(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    suite = {Path(name).name for name in names if name.startswith("pytest_smoke/suite/")}
    expected = {path.name for path in (PACKAGE / "suite").glob("*.py")}
    assert suite == expected
    # The demo: its code and data, as in the source tree (bytecode and caches aside).
    demo = {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in (PACKAGE / "demo").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert demo <= names, demo - names
    for data in ("items/schema.sql", "items/azure-data.json", "articles/smoke-checks.toml"):
        assert f"pytest_smoke/demo/{data}" in demo
    assert "pytest_smoke/reports/smoke-gate-report.schema.json" in names
    assert "pytest_smoke/py.typed" in names
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    declared = configparser.ConfigParser()
    declared.read_string(zipfile.ZipFile(wheel).read(entry_points).decode())
    assert dict(declared["pytest11"]) == {"smoke": "pytest_smoke:plugin"}
    assert dict(declared["console_scripts"]) == {"smoke-gate": "pytest_smoke.cli:main"}
    # The package's namespace runs from _package.py; type checkers read __init__.pyi.
    assert {"pytest_smoke/_package.py", "pytest_smoke/__init__.pyi"} <= names


def test_the_wheels_metadata_is_short(wheel: Path) -> None:
    # pytest-metadata parses it twice in every pytest run of every project that has the plugin
    # installed (pyproject.toml): the short PyPI page, and no extra for this repository's tests.
    archive = zipfile.ZipFile(wheel)
    name = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
    metadata = email.message_from_bytes(archive.read(name))
    assert str(metadata.get_payload()).strip() == (ROOT / "README.pypi.md").read_text().strip()
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert {"all", "demo", "server"} <= extras
    assert extras.isdisjoint({"test", "docs"})
