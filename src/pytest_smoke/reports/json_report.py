"""The decision as a JSON document with a versioned schema (``smoke-gate-report.schema.json``).

Schema version 1. Consumers should check ``schema_version`` and ignore keys they do not know;
new keys may be added within a version, existing ones never change meaning.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pytest_smoke.gate import Counts, Decision, Policy, RunSummary

SCHEMA_VERSION: Final = 1
SCHEMA_FILE: Final = Path(__file__).with_name("smoke-gate-report.schema.json")


def report_document(
    decision: Decision,
    run: RunSummary,
    policy: Policy,
    *,
    gate_enabled: bool,
    pytest_exit_status: int,
    profile: str | None,
    started_at: str,
    finished_at: str,
    duration_seconds: float,
    ungated: int,
    tool_version: str,
    requests: Mapping[str, Any] | None = None,
    load: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a pipeline or another gate needs, as plain JSON-ready data; ``load``: the
    load burst's summary (:meth:`pytest_smoke.load.stats.LoadResult.as_dict`), if one ran."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pytest-smoke-gate", "version": tool_version},
        "verdict": str(decision.verdict),
        "exit_code": decision.exit_code,
        "gate_enabled": gate_enabled,
        "pytest_exit_status": pytest_exit_status,
        "reasons": list(decision.reasons),
        "notes": list(decision.notes),
        "causes": [{"cause": g.cause, "tests": list(g.nodeids)} for g in decision.causes],
        "failure_rate": decision.failure_rate,
        "totals": _counts(decision.totals),
        "categories": {name: _counts(c) for name, c in decision.categories.items()},
        "flaky": list(decision.flaky),
        "collection_errors": run.collection_errors,
        "worker_crashes": list(run.worker_crashes),
        "interrupted": run.interrupted,
        "warnings": list(run.warnings),
        "not_applicable": [
            {"reason": group.reason, "tests": list(group.tests)}
            for group in decision.not_applicable
        ],
        "left_behind": list(decision.left_behind),
        "ungated": ungated,
        "requests": dict(requests) if requests else None,
        "load": dict(load) if load else None,
        "policy": _policy(policy),
        "profile": profile,
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_seconds": round(duration_seconds, 3),
        "tests": [
            {
                "nodeid": r.nodeid,
                "outcome": str(r.outcome),
                "categories": sorted(r.categories),
                "critical": r.critical,
                "cause": r.cause,
                "reruns": r.reruns,
                "duration_seconds": round(r.duration, 6),
            }
            for r in decision.results
        ],
    }


def write_json(path: str | os.PathLike[str], document: Mapping[str, Any]) -> Path:
    """Write ``document`` to ``path`` atomically (readers never see half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.", delete=False
    ) as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    os.replace(handle.name, target)
    return target


def _counts(counts: Counts) -> dict[str, int]:
    return {"total": counts.total, **asdict(counts)}


def _policy(policy: Policy) -> dict[str, Any]:
    data = asdict(policy)
    data["rollback_categories"] = sorted(policy.rollback_categories)
    data["category_rules"] = {
        rule.category: [
            {"verdict": str(t.verdict), "operator": t.operator, "percent": t.percent}
            for t in rule.thresholds
        ]
        for rule in policy.category_rules
    }
    return data
