"""The Alembic migrations build exactly the schema the models declare (both databases), on SQLite."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import management.models  # noqa: F401  (every domain's tables on the metadata)
from management import migrate
from management.db import Base, UsageBase


@pytest.mark.parametrize(("which", "metadata"), [("cloud", Base.metadata), ("usage", UsageBase.metadata)])
def test_migrations_match_the_models(tmp_path, which, metadata):
    engine = create_engine(f"sqlite:///{tmp_path / which}.db")
    migrate.upgrade(engine, which)
    with engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert metadata.tables and drift == []


def test_sessions_of_both_databases(tmp_path):
    """The three session kinds of a process: writes commit, a read session refuses to write, and the usage
    database has its own."""
    from sqlalchemy import text

    from management.db import Database
    from management.iam.models import Domain

    database = Database()
    cloud, usage = f"sqlite:///{tmp_path / 'cloud.db'}", f"sqlite:///{tmp_path / 'usage.db'}"
    migrate.upgrade(create_engine(cloud), "cloud")
    database.configure(cloud, usage)
    try:
        with database.session() as session:
            session.add(Domain(name="d1", path="/d1/", level=1, parent=None))
        with database.read_session() as session:
            assert session.scalar(text("SELECT count(*) FROM domain WHERE name = 'd1'")) == 1
            stray = Domain(name="d2", path="/d2/", level=1, parent=None)
            session.add(stray)
            with pytest.raises(RuntimeError, match="read-only request tried to write Domain"):
                session.flush()
            session.expunge(stray)
        with database.usage_session() as session:
            assert session.scalar(text("SELECT 1")) == 1
            assert session.get_bind().url.database.endswith("usage.db")
    finally:
        database.dispose()
