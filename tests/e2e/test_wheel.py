"""The wheel ships the bundled suite, so `pytest --pyargs pytest_smoke.suite` works from it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_contains_the_suite_and_the_report_schema(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("pytest_smoke_gate-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    suite = {Path(name).name for name in names if name.startswith("pytest_smoke/suite/")}
    expected = {path.name for path in (ROOT / "tests" / "smoke").glob("*.py")}
    assert suite == expected
    assert "pytest_smoke/reports/smoke-gate-report.schema.json" in names
    assert "pytest_smoke/py.typed" in names
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "smoke = pytest_smoke.plugin" in zipfile.ZipFile(wheel).read(entry_points).decode()
