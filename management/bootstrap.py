"""Process start-up shared by the management server, the worker and the tools."""

from __future__ import annotations

import logging

from management.db import db
from management.jobs import celery as celery_app
from management.settings import Settings

log = logging.getLogger(__name__)


def bootstrap(settings: Settings, *, migrate: bool = True, seed: bool = True) -> None:
    """Connect both databases, bring their schema up to date, seed a new cloud, load the commands."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db.configure(settings.database_url("cloud"), settings.database_url("usage"))
    if migrate:
        from management.migrate import upgrade_all

        upgrade_all(db.engine, db.usage_engine)
    if seed:
        from management.seed import seed as seed_data

        with db.session() as session:
            if seed_data(session):
                log.info("seeded a new cloud: ROOT domain, admin/password")
    celery_app.configure(settings)
    import management.api.native.commands  # noqa: F401  (fills the command registry)
