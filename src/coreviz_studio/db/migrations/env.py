"""Alembic environment: the connection comes from coreviz_studio.db.migrate."""

from alembic import context

from coreviz_studio.db.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # autogenerate from the command line: python -m alembic ... (dev only)
    engine = config.attributes["engine"]
    connection = engine.connect()

context.configure(connection=connection, target_metadata=Base.metadata,
                  transaction_per_migration=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
