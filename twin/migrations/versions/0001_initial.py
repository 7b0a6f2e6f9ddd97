"""Users, jobs, layers and their versions.

Revision ID: 0001
Revises:
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op

import twin.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", twin.models.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_users_username", "users", ["username"], unique=True)
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column(
            "created_by",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", twin.models.UTCDateTime(), nullable=False),
        sa.Column("started_at", twin.models.UTCDateTime(), nullable=True),
        sa.Column("finished_at", twin.models.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_jobs_kind", "jobs", ["kind"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_geospatial_table(
        "layers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("source_crs", sa.String(64), nullable=True),
        sa.Column(
            "extent",
            geoalchemy2.Geometry("POLYGON", srid=4326, spatial_index=False),
            nullable=True,
        ),
        sa.Column("current_version_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_by",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", twin.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", twin.models.UTCDateTime(), nullable=False),
    )
    op.create_geospatial_index(
        "idx_layers_extent",
        "layers",
        ["extent"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_layers_name", "layers", ["name"])
    op.create_table(
        "layer_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "layer_id",
            sa.Integer(),
            sa.ForeignKey("layers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(32), nullable=False, unique=True),
        sa.Column("entry", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("created_at", twin.models.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_layer_versions_layer_id", "layer_versions", ["layer_id"])


def downgrade() -> None:
    op.drop_table("layer_versions")
    op.drop_geospatial_index(
        "idx_layers_extent",
        table_name="layers",
        column_name="extent",
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.drop_geospatial_table("layers")
    op.drop_table("jobs")
    op.drop_table("users")
