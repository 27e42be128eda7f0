"""A verdict section at the top of the pytest-html report.

:class:`HtmlVerdictSection` is registered as a plugin only when pytest-html is installed and a
report was asked for: a plain ``pytest_html_*`` hook would break pytest without pytest-html.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import pytest

    from pytest_smoke.gate import Decision

_COLOUR = {
    "PROCEED": "#1a7f37",
    "MONITOR": "#9a6700",
    "INVESTIGATE": "#bc4c00",
    "ROLLBACK": "#cf222e",
}


def verdict_html(decision: Decision, *, gate_enabled: bool) -> str:
    verdict = str(decision.verdict)
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{c.passed}</td><td>{c.failed}</td><td>{c.errors}</td>"
        f"<td>{c.skipped}</td></tr>"
        for name, c in [*decision.categories.items(), ("total", decision.totals)]
    )
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in decision.reasons)
    causes = "".join(
        f"<li>{escape(g.cause)} ({len(g.nodeids)} failed)</li>" for g in decision.causes
    )
    left_behind = "".join(f"<li>{escape(entry)}</li>" for entry in decision.left_behind)
    not_applicable = "".join(
        f"<li>{escape(group.reason)}: {len(group.tests)}<ul>"
        + "".join(f"<li>{escape(test)}</li>" for test in group.tests)
        + "</ul></li>"
        for group in decision.not_applicable
    )
    advisory = "" if gate_enabled else " <small>(advisory: gate off)</small>"
    return (
        f'<div id="smoke-gate" data-verdict="{verdict}">'
        f'<h2 style="color:{_COLOUR[verdict]}">Smoke gate: {verdict}{advisory}</h2>'
        f"<p>Exit status: {decision.exit_code}</p>"
        f"<h3>Reasons</h3><ul>{reasons}</ul>"
        + (f"<h3>Root causes</h3><ul>{causes}</ul>" if causes else "")
        + (f"<h3>Left behind</h3><ul>{left_behind}</ul>" if left_behind else "")
        + (
            f'<h3>Not applicable</h3><ul id="smoke-not-applicable">{not_applicable}</ul>'
            if not_applicable
            else ""
        )
        + "<table><thead><tr><th>category</th><th>passed</th><th>failed</th><th>errors</th>"
        f"<th>skipped</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


class HtmlVerdictSection:
    """pytest-html hooks; ``section`` returns the HTML once the gate has decided."""

    def __init__(self, section: Callable[[], str | None]) -> None:
        self._section = section

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        del summary, postfix, session
        html = self._section()
        if html:
            prefix.append(html)
