"""Sensors, quantities, observations with rollups, alert rules, alerts, dead letters.

Revision ID: 0002
Revises: 0001
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op

import twin.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table(
        "sensors",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("z", sa.Float(), nullable=True),
        sa.Column(
            "location",
            geoalchemy2.Geometry("POINT", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.Column("zone", sa.String(120), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("commissioned_at", twin.models.UTCDateTime(), nullable=True),
        sa.Column("maintenance", sa.JSON(), nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", twin.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", twin.models.UTCDateTime(), nullable=False),
    )
    op.create_geospatial_index(
        "idx_sensors_location",
        "sensors",
        ["location"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_sensors_type", "sensors", ["type"])
    op.create_table(
        "sensor_quantities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "sensor_id",
            sa.String(100),
            sa.ForeignKey("sensors.id", ondelete="CASCADE", onupdate="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("last_t", sa.BigInteger(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.UniqueConstraint("sensor_id", "name", name="uq_quantity_sensor_name"),
    )
    op.create_index("ix_sensor_quantities_sensor_id", "sensor_quantities", ["sensor_id"])
    op.create_table(
        "observations",
        sa.Column(
            "quantity_id",
            sa.Integer(),
            sa.ForeignKey("sensor_quantities.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("t", sa.BigInteger(), primary_key=True),
        sa.Column("value", sa.Float(), nullable=False),
    )
    op.create_table(
        "observation_rollups",
        sa.Column(
            "quantity_id",
            sa.Integer(),
            sa.ForeignKey("sensor_quantities.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("period", sa.Integer(), primary_key=True),
        sa.Column("start", sa.BigInteger(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
    )
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "sensor_id",
            sa.String(100),
            sa.ForeignKey("sensors.id", ondelete="CASCADE", onupdate="CASCADE"),
            nullable=True,
        ),
        sa.Column("sensor_type", sa.String(64), nullable=True),
        sa.Column("quantity", sa.String(64), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", twin.models.UTCDateTime(), nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "rule_id",
            sa.Integer(),
            sa.ForeignKey("alert_rules.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("sensor_id", sa.String(100), nullable=False),
        sa.Column("quantity", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("observed_at", twin.models.UTCDateTime(), nullable=True),
        sa.Column("opened_at", twin.models.UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", twin.models.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(80), nullable=True),
        sa.Column("closed_at", twin.models.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_alerts_sensor_status", "alerts", ["sensor_id", "status"])
    op.create_index("ix_alerts_status", "alerts", ["status"])
    op.create_index("ix_alerts_opened_at", "alerts", ["opened_at"])
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(300), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_at", twin.models.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"])


def downgrade() -> None:
    op.drop_table("dead_letters")
    op.drop_table("alerts")
    op.drop_table("alert_rules")
    op.drop_table("observation_rollups")
    op.drop_table("observations")
    op.drop_table("sensor_quantities")
    op.drop_geospatial_index(
        "idx_sensors_location",
        table_name="sensors",
        column_name="location",
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.drop_geospatial_table("sensors")
