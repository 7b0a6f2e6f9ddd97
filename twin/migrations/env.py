"""Alembic environment: always run from `twin.migrate.upgrade` with a live connection."""

from alembic import context
from geoalchemy2 import alembic_helpers

import twin.projects.models  # registers projects, meetings, comments
import twin.sensors.models  # registers the sensor tables
import twin.sim.models  # noqa: F401  (registers the simulation results table)
from twin.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_object=alembic_helpers.include_object,
    process_revision_directives=alembic_helpers.writer,
    render_item=alembic_helpers.render_item,
)
with context.begin_transaction():
    context.run_migrations()
