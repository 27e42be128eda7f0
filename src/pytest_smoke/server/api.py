"""The service's documents: the bodies it accepts and the answers it gives (pydantic models,
which FastAPI turns into the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pytest_smoke.server.runs import RunRequest, RunState

Verdict = Literal["PROCEED", "MONITOR", "INVESTIGATE", "ROLLBACK"]


class ErrorView(BaseModel):
    """Every error: one line."""

    detail: str


class RunFields(BaseModel):
    """What a run runs: a profile and which of its tests (``POST /runs``, schedules)."""

    model_config = ConfigDict(extra="forbid")

    profile: str = Field(min_length=1, max_length=255, description="a .env.NAME profile's NAME")
    quick: bool = Field(False, description="only the tests marked critical (--smoke-quick)")
    markers: str | None = Field(None, max_length=2000, description="a pytest -m expression")
    categories: list[str] = Field(
        default_factory=list, max_length=32, description="dependency categories, ORed into -m"
    )
    read_only: bool = Field(False, description="--smoke-read-only")

    def run_request(self, version: str | None) -> RunRequest:
        """The run these fields ask for, of the deployment's ``version`` (``None``: unnamed)."""
        return RunRequest(
            profile=self.profile,
            quick=self.quick,
            markers=self.markers,
            categories=tuple(self.categories),
            read_only=self.read_only,
            version=version,
        )


class RunBody(RunFields):
    """``POST /runs``: what to run."""

    version: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="the deployed version the run checks (flaky tests are found per version)",
    )


class ProfileBody(BaseModel):
    """``POST /run-all`` and ``/test/...``: the profile (or give ``?profile=``)."""

    profile: str | None = Field(None, min_length=1, max_length=255)


class RequestView(BaseModel):
    """What a run was asked for."""

    profile: str
    quick: bool
    markers: str | None
    categories: list[str]
    read_only: bool
    version: str | None = None


class RunSummary(BaseModel):
    """A run, without its report (``GET /runs``)."""

    id: str
    url: str
    profile: str
    request: RequestView
    state: RunState
    verdict: Verdict | None
    exit_code: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    trigger: str = Field(description="what started it: api, gate, schedule, watch or dashboard")
    flaky_tests: list[str] = Field(
        description="tests that passed in the previous run of this profile and version and "
        "failed in this one, or the other way round"
    )


class RunView(RunSummary):
    """A run with its JSON report (``smoke-gate-report.schema.json``), null until it is done."""

    report: dict[str, Any] | None


class Submitted(BaseModel):
    """A run was started, or joined (an identical one was already queued or running)."""

    id: str
    url: str
    state: RunState
    joined: bool


class RunPage(BaseModel):
    """A page of runs, newest first; ``next`` is the next page's URL, null on the last."""

    runs: list[RunSummary]
    total: int
    limit: int
    offset: int
    next: str | None


class SettingView(BaseModel):
    """One setting of a profile; secret values masked."""

    name: str
    value: str
    source: str


class ProfileView(BaseModel):
    """A profile: its settings, or why it does not load."""

    name: str
    file: str
    settings: list[SettingView] | None = None
    error: str | None = None


class ProfileList(BaseModel):
    """The profiles the service can run."""

    profiles: list[ProfileView]


class Health(BaseModel):
    """The service itself."""

    status: Literal["ok"]
    version: str
    executor: Literal["local", "queue"]
    active_runs: int


class FlaggerPayload(BaseModel):
    """Flagger's webhook payload (its documentation, "Webhooks")."""

    name: str
    namespace: str
    phase: str | None = None
    checksum: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class GateAnswer(BaseModel):
    """A gate's answer: the verdict, its reasons and the run."""

    detail: str | None = None
    verdict: Verdict | None
    reasons: list[str]
    run: RunView


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorView} for code in (*codes, 422)}
