"""Schema migrations of both databases, run at start and by cloud-setup-databases."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

import migrations

ROOT = Path(migrations.__file__).parent


def alembic_config(which: str, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / which))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@contextmanager
def _migration_lock(conn):
    """On MySQL, serialise concurrent starts of several management servers."""
    if conn.dialect.name == "mysql":
        conn.execute(text("SELECT GET_LOCK('cloudstack-schema-migration', 300)"))
        try:
            yield
        finally:
            conn.execute(text("SELECT RELEASE_LOCK('cloudstack-schema-migration')"))
    else:
        yield


def upgrade(engine: Engine, which: str) -> None:
    cfg = alembic_config(which)
    with engine.connect() as conn, _migration_lock(conn):
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
        conn.commit()


def upgrade_all(cloud_engine: Engine, usage_engine: Engine) -> None:
    upgrade(cloud_engine, "cloud")
    upgrade(usage_engine, "usage")
