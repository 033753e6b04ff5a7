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
