"""Alembic environment: always run on a connection handed over by ``speakerverify.storage.migrate``.

The caller opens the transaction and takes the migration lock first, so several processes starting
at once against one database apply each revision exactly once.
"""

from __future__ import annotations

from alembic import context

from speakerverify.storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `speakerverify db upgrade` (speakerverify.storage.migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
