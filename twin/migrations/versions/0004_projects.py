"""Closed user groups (owning layers and projects); projects, variants and their revisions,
model assets, meetings, citizens' comments and votes.

Revision ID: 0004
Revises: 0003
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op

import twin.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

T = twin.models.UTCDateTime


def _user(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name, sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", T(), nullable=False),
    )
    op.create_index("ix_groups_name", "groups", ["name"], unique=True)
    op.create_table(
        "group_members",
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey("groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("added_at", T(), nullable=False),
    )
    op.create_index("ix_group_members_user_id", "group_members", ["user_id"])
    # SQLite accepts a foreign key inline in ADD COLUMN (not as a separate ALTER); batch mode
    # would rebuild the table and its spatial index for nothing.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE layers ADD COLUMN group_id INTEGER "
            "REFERENCES groups (id) ON DELETE RESTRICT"
        )
    else:
        op.add_column("layers", sa.Column("group_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_layers_group_id", "layers", "groups", ["group_id"], ["id"], ondelete="RESTRICT"
        )
    op.create_index("ix_layers_group_id", "layers", ["group_id"])

    op.create_geospatial_table(
        "projects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "area", geoalchemy2.Geometry("POLYGON", srid=4326, spatial_index=False), nullable=True
        ),
        sa.Column(
            "group_id", sa.Integer(), sa.ForeignKey("groups.id", ondelete="RESTRICT"), nullable=True
        ),
        _user("created_by"),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
    )
    op.create_geospatial_index(
        "idx_projects_area",
        "projects",
        ["area"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_projects_group_id", "projects", ["group_id"])
    op.create_table(
        "variants",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        _user("updated_by"),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
    )
    op.create_index("ix_variants_project_id", "variants", ["project_id"])
    op.create_table(
        "variant_revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "variant_id",
            sa.Integer(),
            sa.ForeignKey("variants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("conflict", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        _user("user_id"),
        sa.Column("created_at", T(), nullable=False),
    )
    op.create_index("ix_variant_revisions_variant_id", "variant_revisions", ["variant_id"])
    op.create_table(
        "project_assets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("info", sa.JSON(), nullable=False),
        _user("created_by"),
        sa.Column("created_at", T(), nullable=False),
    )
    op.create_index("ix_project_assets_project_id", "project_assets", ["project_id"])
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("expires_at", T(), nullable=False),
        sa.Column("comments_open", sa.Boolean(), nullable=False),
        sa.Column("bookmarks", sa.JSON(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("state_version", sa.Integer(), nullable=False),
        _user("created_by"),
        sa.Column("created_at", T(), nullable=False),
    )
    op.create_index("ix_meetings_project_id", "meetings", ["project_id"])
    op.create_index("ix_meetings_token", "meetings", ["token"], unique=True)
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "meeting_id",
            sa.Integer(),
            sa.ForeignKey("meetings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "variant_id",
            sa.Integer(),
            sa.ForeignKey("variants.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("height", sa.Float(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("moderated_at", T(), nullable=True),
        _user("moderated_by"),
    )
    op.create_index("ix_comments_meeting_id", "comments", ["meeting_id"])
    op.create_index("ix_comments_status", "comments", ["status"])
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "meeting_id",
            sa.Integer(),
            sa.ForeignKey("meetings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "variant_id",
            sa.Integer(),
            sa.ForeignKey("variants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("voter", sa.String(64), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.UniqueConstraint("meeting_id", "voter", name="uq_votes_meeting_voter"),
    )
    op.create_index("ix_votes_meeting_id", "votes", ["meeting_id"])


def downgrade() -> None:
    for table in (
        "votes",
        "comments",
        "meetings",
        "project_assets",
        "variant_revisions",
        "variants",
    ):
        op.drop_table(table)
    op.drop_geospatial_index(
        "idx_projects_area", "projects", postgresql_using="gist", column_name="area"
    )
    op.drop_geospatial_table("projects")
    op.drop_index("ix_layers_group_id", "layers")
    with op.batch_alter_table("layers") as batch:
        batch.drop_column("group_id")
    op.drop_table("group_members")
    op.drop_table("groups")
