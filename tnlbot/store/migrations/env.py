"""Alembic environment: the engine comes from tnlbot's Store (or a URL)."""
from alembic import context
from sqlalchemy import create_engine

from tnlbot.store.database import hold_start_lock
from tnlbot.store.tables import metadata

config = context.config


def run() -> None:
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            hold_start_lock(connection)   # workers started together: one migrates, the others wait
            context.run_migrations()      # then read the version it committed
        connection.commit()


run()
