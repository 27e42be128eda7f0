"""The history tables of ``smoke-gate serve``: one row per run, its JSON report apart.

``smoke_gate_runs`` holds what the run list shows and filters on; ``smoke_gate_run_reports``
holds each finished run's JSON report, so listing thousands of runs never reads a report. The
names are prefixed (and Alembic's version table is ``smoke_gate_alembic_version``) so the
history can live in a database that other applications use too. Alembic's revisions in
``pytest_smoke.server.migrations`` create exactly these tables (a test compares them); a change
here needs a new revision there.

Timestamps are timezone-aware UTC on the way in and out, whatever the database: SQLite has no
time zone type, so :class:`UTCDateTime` stores naive UTC there and puts the zone back on reading.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

#: JSON columns: ``jsonb`` on PostgreSQL (compact, queryable), JSON text elsewhere.
JSONDocument: Final = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database; a naive one is refused (ValueError)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware in, UTC stored (naive UTC on SQLite, whose text format has no zone)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"a naive datetime cannot be stored: {value.isoformat()}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Always aware UTC out."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """The declarative base of the history tables (its metadata is Alembic's target)."""


class Run(Base):
    """One run: what was asked, where it is, how it ended (the report is in :class:`RunReport`)."""

    __tablename__ = "smoke_gate_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile: Mapped[str] = mapped_column(String(255))
    #: the RunRequest's fields as a JSON object (fields added later keep their defaults)
    request: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    #: a RunState value
    state: Mapped[str] = mapped_column(String(16))
    #: the report's verdict (PROCEED, MONITOR, INVESTIGATE, ROLLBACK) or NULL
    verdict: Mapped[str | None] = mapped_column(String(16))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    #: one masked line: why it timed out or crashed
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the deployed version the run checked (the request's), or NULL
    version: Mapped[str | None] = mapped_column(String(255))
    #: what started it: api, gate, schedule or watch
    trigger: Mapped[str] = mapped_column(String(16), server_default="api")
    #: node ids whose outcome flipped since the previous finished run of this profile and version
    flaky_tests: Mapped[list[str] | None] = mapped_column(JSONDocument)
    #: from the report at the end, for the trends without reading reports: tests that ran,
    #: those that passed, the run's duration and its requests' p95 (ms)
    tests_total: Mapped[int | None] = mapped_column(Integer)
    tests_passed: Mapped[int | None] = mapped_column(Integer)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    p95_ms: Mapped[float | None] = mapped_column(Float)

    # The list is newest first (created_at, then id) under any mix of the profile and verdict
    # filters: each index ends in the sort order, so a page is read in order, never sorted.
    __table_args__ = (
        Index("ix_smoke_gate_runs_created_at", "created_at", "id"),
        Index("ix_smoke_gate_runs_profile_created_at", "profile", "created_at", "id"),
        Index("ix_smoke_gate_runs_verdict_created_at", "verdict", "created_at", "id"),
        Index(
            "ix_smoke_gate_runs_profile_verdict_created_at",
            "profile",
            "verdict",
            "created_at",
            "id",
        ),
        Index("ix_smoke_gate_runs_state", "state"),
        Index("ix_smoke_gate_runs_profile_version", "profile", "version", "finished_at"),
        Index("ix_smoke_gate_runs_finished_at", "finished_at", "id"),
        Index("ix_smoke_gate_runs_profile_finished_at", "profile", "finished_at", "id"),
    )


class RunReport(Base):
    """A finished run's JSON report (reports/smoke-gate-report.schema.json), deleted with it."""

    __tablename__ = "smoke_gate_run_reports"

    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("smoke_gate_runs.id", ondelete="CASCADE"), primary_key=True
    )
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument)


class Schedule(Base):
    """A profile's recurring run: every N seconds or by a cron expression, from ``starts_at``
    until ``ends_at`` (a watch window after a deployment) or for ever."""

    __tablename__ = "smoke_gate_schedules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile: Mapped[str] = mapped_column(String(255))
    #: the RunRequest each run gets, as JSON
    request: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    #: schedule (set up by hand) or watch (after a deployment, with an end)
    kind: Mapped[str] = mapped_column(String(16))
    every_seconds: Mapped[float | None] = mapped_column(Float)
    cron: Mapped[str | None] = mapped_column(String(255))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_smoke_gate_schedules_profile", "profile"),)
