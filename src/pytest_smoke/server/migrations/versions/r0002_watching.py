"""Watching after the gate: each run's version, trigger, flaky tests and summary figures; the
schedules table (recurring runs and watch windows).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _run_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("version", sa.String(255), nullable=True),
        sa.Column("trigger", sa.String(16), nullable=False, server_default="api"),
        sa.Column("flaky_tests", _JSON, nullable=True),
        sa.Column("tests_total", sa.Integer(), nullable=True),
        sa.Column("tests_passed", sa.Integer(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("p95_ms", sa.Float(), nullable=True),
    ]


def upgrade() -> None:
    """Add the runs' new columns (NULL for the runs already stored) and the schedules."""
    with op.batch_alter_table("smoke_gate_runs") as runs:
        for column in _run_columns():
            runs.add_column(column)
        runs.create_index(
            "ix_smoke_gate_runs_profile_version", ["profile", "version", "finished_at"]
        )
        runs.create_index("ix_smoke_gate_runs_finished_at", ["finished_at", "id"])
        runs.create_index(
            "ix_smoke_gate_runs_profile_finished_at", ["profile", "finished_at", "id"]
        )
    op.create_table(
        "smoke_gate_schedules",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("profile", sa.String(255), nullable=False),
        sa.Column("request", _JSON, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("every_seconds", sa.Float(), nullable=True),
        sa.Column("cron", sa.String(255), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_smoke_gate_schedules_profile", "smoke_gate_schedules", ["profile"])


def downgrade() -> None:
    """Drop the schedules and the runs' new columns."""
    op.drop_table("smoke_gate_schedules")
    with op.batch_alter_table("smoke_gate_runs") as runs:
        runs.drop_index("ix_smoke_gate_runs_profile_finished_at")
        runs.drop_index("ix_smoke_gate_runs_finished_at")
        runs.drop_index("ix_smoke_gate_runs_profile_version")
        for column in reversed(_run_columns()):
            runs.drop_column(column.name)
