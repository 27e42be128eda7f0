"""The decision as GitHub-flavoured Markdown, for ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from pathlib import Path

from pytest_smoke.gate import Decision, Verdict

_ICON = {
    Verdict.PROCEED: ":white_check_mark:",
    Verdict.MONITOR: ":eyes:",
    Verdict.INVESTIGATE: ":mag:",
    Verdict.ROLLBACK: ":rotating_light:",
}


def step_summary_markdown(decision: Decision, *, gate_enabled: bool) -> str:
    lines = [f"## {_ICON[decision.verdict]} Smoke gate: {decision.verdict}", ""]
    if not gate_enabled:
        lines += ["_Advisory: the gate was off, so pytest's exit status stands._", ""]
    lines += ["**Reasons**", ""] + [f"- {_escape(reason)}" for reason in decision.reasons] + [""]
    if decision.causes:
        lines += ["**Root causes**", ""]
        lines += [f"- {_escape(g.cause)} ({len(g.nodeids)} failed)" for g in decision.causes]
        lines.append("")
    lines += [
        "| category | passed | failed | errors | skipped |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    rows = [*decision.categories.items(), ("**total**", decision.totals)]
    lines += [
        f"| {name} | {c.passed} | {c.failed} | {c.errors} | {c.skipped} |" for name, c in rows
    ]
    rate = "n/a" if decision.failure_rate is None else f"{decision.failure_rate * 100:.1f}%"
    lines += ["", f"Failure rate: {rate} · exit status: {decision.exit_code}", ""]
    if decision.left_behind:
        lines += ["**Left behind** (created by the checks, not removed)", ""]
        lines += [f"- {_escape(entry)}" for entry in decision.left_behind] + [""]
    if decision.not_applicable:
        lines += ["**Not applicable** (deselected, not counted)", ""]
        lines += [
            f"- {_escape(group.reason)}: {len(group.tests)} "
            f"check{'' if len(group.tests) == 1 else 's'}"
            for group in decision.not_applicable
        ] + [""]
    return "\n".join(lines)


def append_step_summary(path: str, markdown: str) -> None:
    """Append to the summary file GitHub Actions gives each step (it may hold other steps' text)."""
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(markdown + "\n")


def _escape(text: str) -> str:
    # Test ids hold characters Markdown treats as markup ([, ], *, _ and |).
    for char in "\\`*_[]|<>":
        text = text.replace(char, "\\" + char)
    return text
