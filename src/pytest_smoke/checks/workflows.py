"""Critical user workflows of the checks file (``[[workflows]]``): ordered requests.

A workflow runs its ``steps`` in order and stops at the first that fails; then its ``finally``
steps run, in order, whatever happened (cleanup). Every run has one marker, ``{marker}``, and an
e-mail address made from it, ``{email}`` (``<marker>@example.com``); a step's ``save`` keeps
values of its answer for later steps as ``{saved.NAME}``. A ``finally`` step that uses a value
no step saved is left out (what would have made it was never made). Each ``finally`` step that
runs goes on the ledger by URL before it is sent and comes off when it passes, so one that fails
is reported as left behind: ``https://host/api/users/42 (DELETE -> 500)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from pytest_smoke.checks.ledger import Ledger
from pytest_smoke.checks.step import SAVED, Outcome, Step, run, url_of
from pytest_smoke.checks.templates import new_marker

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import httpx

    from pytest_smoke.checks.model import Checks

#: The domain of ``{email}``: reserved for examples (RFC 2606), so no mail ever reaches anyone.
EMAIL_DOMAIN: Final = "example.com"
#: A saved value whose name holds one of these is a secret: masked in every output.
SECRET_WORDS: Final = ("token", "secret", "password", "passwd", "key", "session", "cookie", "jwt")


@dataclass(frozen=True)
class Workflow:
    """One ``[[workflows]]`` entry: its name (the test id), criticality and steps."""

    name: str
    critical: bool
    steps: tuple[Step, ...]
    cleanup: tuple[Step, ...]  #: the ``finally`` steps

    @property
    def writes(self) -> bool:
        """Whether any of its requests may change the deployment."""
        return any(step.writes for step in (*self.steps, *self.cleanup))

    @property
    def needs_auth(self) -> bool:
        """Whether any step sends the ``[auth]`` headers."""
        return any(step.auth for step in (*self.steps, *self.cleanup))


@dataclass
class WorkflowRun:
    """What one run of a workflow did."""

    marker: str
    email: str
    saved: dict[str, Any] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)  #: of the steps that ran, in order
    failure: str | None = None  #: the first failing step's line, named by the step
    left_out: list[str] = field(default_factory=list)  #: finally steps not run, and why

    def fields(self) -> dict[str, Any]:
        """The values the templates of the next step are filled from."""
        return {
            "marker": self.marker,
            "email": self.email,
            **{SAVED + name: value for name, value in self.saved.items()},
        }


def is_secret_name(name: str) -> bool:
    """Whether a value saved as ``name`` is a secret (``token``, ``api_key``, ``session_id``)."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def secret_saves(workflow: Workflow) -> frozenset[str]:
    """The names of the values ``workflow`` saves that are secrets: by their name, or by where
    in the answer they come from (``save = {t = "access_token"}`` is a token too)."""
    return frozenset(
        name
        for step in (*workflow.steps, *workflow.cleanup)
        for name, path in step.save.items()
        if is_secret_name(name) or is_secret_name(path)
    )


def workflows_of(checks: Checks) -> list[Workflow]:
    """The ``[[workflows]]`` of ``checks`` in file order (empty when it has none)."""
    workflows = []
    for index, table in enumerate(checks.get("workflows") or []):
        key, auth = f"workflows[{index}]", table["auth"]
        workflows.append(
            Workflow(
                name=table["name"],
                critical=table["critical"],
                steps=tuple(
                    Step.from_table(step, key=f"{key}.steps[{number}]", auth=auth)
                    for number, step in enumerate(table["steps"])
                ),
                cleanup=tuple(
                    Step.from_table(step, key=f"{key}.finally[{number}]", auth=auth)
                    for number, step in enumerate(table["finally"])
                ),
            )
        )
    return workflows


async def run_workflow(
    client: httpx.AsyncClient,
    workflow: Workflow,
    *,
    ledger: Ledger | None = None,
    auth_headers: Mapping[str, str] | None = None,
    on_saved: Callable[[str, Any], None] | None = None,
    marker: str | None = None,
) -> WorkflowRun:
    """Run ``workflow`` on ``client``: its steps until one fails, then all its finally steps.

    ``ledger`` receives each finally step's URL (off again when it passed); ``auth_headers`` go
    with the steps whose ``auth`` is true; ``on_saved(name, value)`` is called for each value
    saved (to mask the secret ones). Never raises for what the deployment answers: a failure
    is in ``WorkflowRun.failure``.
    """
    ledger = ledger if ledger is not None else Ledger()
    marker = marker or new_marker()
    state = WorkflowRun(marker=marker, email=f"{marker}@{EMAIL_DOMAIN}")
    try:
        for number, step in enumerate(workflow.steps, start=1):
            outcome = await _step(client, step, state, auth_headers, on_saved)
            if not outcome.ok:
                state.failure = f"step {number} {step.title}: {outcome.failure}"
                break
    finally:
        for step in workflow.cleanup:
            missing = _unsaved(step, state)
            if missing:
                state.left_out.append(f"{step.key}: nothing saved as {', '.join(missing)}")
                continue
            await _cleanup(
                client, step, state, auth_headers=auth_headers, on_saved=on_saved, ledger=ledger
            )
    return state


async def _step(
    client: httpx.AsyncClient,
    step: Step,
    state: WorkflowRun,
    auth_headers: Mapping[str, str] | None,
    on_saved: Callable[[str, Any], None] | None,
) -> Outcome:
    outcome = await run(step, client, state.fields(), auth_headers=auth_headers)
    state.outcomes.append(outcome)
    for name, value in outcome.saved.items():
        if on_saved is not None:
            on_saved(name, value)
        state.saved[name] = value
    return outcome


async def _cleanup(
    client: httpx.AsyncClient,
    step: Step,
    state: WorkflowRun,
    *,
    auth_headers: Mapping[str, str] | None,
    on_saved: Callable[[str, Any], None] | None,
    ledger: Ledger,
) -> None:
    url = url_of(client, step, state.fields())
    ledger.created(url)
    outcome = await _step(client, step, state, auth_headers, on_saved)
    if outcome.ok:
        ledger.removed(url)
    else:
        what = outcome.status if outcome.status is not None else _why(outcome)
        ledger.not_removed(url, f"{step.method} -> {what}")


def _unsaved(step: Step, state: WorkflowRun) -> list[str]:
    names = {name for name in step.placeholders() if name.startswith(SAVED)}
    return sorted(f"{{{name}}}" for name in names if name.removeprefix(SAVED) not in state.saved)


def _why(outcome: Outcome) -> str:
    """The reason no answer came, from the outcome's failure line."""
    failure = outcome.failure or ""
    return failure.rpartition(": no answer: ")[2] or "no answer"
