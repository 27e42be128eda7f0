"""Running modules of the bundled suite, gated, against a local API in a child pytest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


def run_suite_modules(
    tmp_path: Path,
    url: str,
    modules: tuple[str, ...],
    checks: str,
    token: str,
    *args: str,
    env: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], str]:
    """Run ``modules`` (``pytest_smoke.suite.test_x``) with the gate on, against ``url`` with the
    checks file ``checks`` and the static ``token``; exit status, JSON report and output."""
    checks_file = tmp_path / "smoke-checks.toml"
    checks_file.write_text(checks)
    report = tmp_path / "gate.json"
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMOKE_", "PYTEST_", "AZURE_")) and key != "GATEWAY_URL"
    }
    environment.update(
        {
            "GATEWAY_URL": url,
            "SMOKE_TEST_CHECKS_FILE": str(checks_file),
            "SMOKE_TEST_TOKEN": token,
            "SMOKE_REPORTS_DIR": str(tmp_path / "reports"),
            **(env or {}),
        }
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            *modules,
            "--smoke-gate",
            "--smoke-report-json",
            str(report),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-rA",
            *args,
        ],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    document = json.loads(report.read_text()) if report.exists() else {}
    return result.returncode, document, result.stdout + result.stderr


def outcomes(document: dict[str, Any]) -> dict[str, str]:
    """Each test's outcome in a JSON report, by its name (``test_endpoint[health]``)."""
    return {t["nodeid"].rsplit("::", 1)[1]: t["outcome"] for t in document["tests"]}
