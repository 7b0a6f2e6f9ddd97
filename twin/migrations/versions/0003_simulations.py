"""Saved simulation results (flood scenarios run from the browser).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import twin.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sim_results",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("folder", sa.String(200), nullable=False),
        sa.Column(
            "layer_id",
            sa.Integer(),
            sa.ForeignKey("layers.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("created_at", twin.models.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_sim_results_status", "sim_results", ["status"])
    op.create_index("ix_sim_results_created_at", "sim_results", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_sim_results_created_at", "sim_results")
    op.drop_index("ix_sim_results_status", "sim_results")
    op.drop_table("sim_results")
