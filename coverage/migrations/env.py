"""Alembic environment: migrations run on the connection :func:`coverage.db.upgrade` hands over
(never on a URL read from an ini file), so the project's URL setting is the only one."""

from __future__ import annotations

from alembic import context

from coverage.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when alembic is run by hand
    raise RuntimeError("run migrations through coverage.db.upgrade (or `vnbb db upgrade`), not the alembic CLI")

context.configure(connection=connection, target_metadata=target_metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
