"""Alembic environment: always run online, on the connection ``migrations.py`` passes in."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    version_table=context.config.attributes.get("version_table", "alembic_version"),
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
