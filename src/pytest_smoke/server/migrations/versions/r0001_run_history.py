"""The run history: smoke_gate_runs and their reports, smoke_gate_run_reports.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the two tables and the indexes the run list filters and sorts with."""
    op.create_table(
        "smoke_gate_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("profile", sa.String(255), nullable=False),
        sa.Column("request", _JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    for name, columns in (
        ("ix_smoke_gate_runs_created_at", ["created_at", "id"]),
        ("ix_smoke_gate_runs_profile_created_at", ["profile", "created_at", "id"]),
        ("ix_smoke_gate_runs_verdict_created_at", ["verdict", "created_at", "id"]),
        (
            "ix_smoke_gate_runs_profile_verdict_created_at",
            ["profile", "verdict", "created_at", "id"],
        ),
        ("ix_smoke_gate_runs_state", ["state"]),
    ):
        op.create_index(name, "smoke_gate_runs", columns)
    op.create_table(
        "smoke_gate_run_reports",
        sa.Column(
            "run_id",
            sa.String(64),
            sa.ForeignKey("smoke_gate_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("document", _JSON, nullable=False),
    )


def downgrade() -> None:
    """Drop them (the history is lost)."""
    op.drop_table("smoke_gate_run_reports")
    op.drop_table("smoke_gate_runs")
