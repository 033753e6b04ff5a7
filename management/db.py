"""Database engines, declarative bases and sessions for the ``cloud`` and ``cloud_usage`` databases."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import DateTime, Engine, MetaData, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def new_uuid() -> str:
    return str(uuidlib.uuid4())


class UtcDateTime(TypeDecorator):
    """Naive UTC in the database (MySQL DATETIME), aware UTC in Python."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=timezone.utc) if value is not None else None


class Base(DeclarativeBase):
    """Tables of the ``cloud`` database."""

    metadata = MetaData(naming_convention=NAMING)


class UsageBase(DeclarativeBase):
    """Tables of the ``cloud_usage`` database."""

    metadata = MetaData(naming_convention=NAMING)


class UuidMixin:
    uuid: Mapped[str] = mapped_column(String(40), unique=True, default=new_uuid)


class Database:
    """The engines and session factories of one process (configured once at start)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.usage_engine: Engine | None = None
        self.read_engine: Engine | None = None
        self.sessions: sessionmaker[Session] | None = None
        self.read_sessions: sessionmaker[Session] | None = None
        self.usage_sessions: sessionmaker[Session] | None = None

    def configure(self, url: str, usage_url: str) -> None:
        self.dispose()
        self.engine = make_engine(url)
        self.usage_engine = make_engine(usage_url)
        # SQLite: writers take the lock at BEGIN (see make_engine); readers must not queue behind them.
        self.read_engine = make_engine(url, for_writes=False) if url.startswith("sqlite") else self.engine
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        self.usage_sessions = sessionmaker(self.usage_engine, expire_on_commit=False)

    def dispose(self) -> None:
        for engine in {self.engine, self.read_engine, self.usage_engine}:
            if engine is not None:
                engine.dispose()
        self.engine = self.read_engine = self.usage_engine = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine is not None and self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error. Code inside may
        commit mid-way (a long job on SQLite does, to free the write lock between its steps); the
        transaction that follows is committed or rolled back the same way."""
        if self.sessions is None:
            raise RuntimeError("database is not configured")
        with self.sessions() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            session.commit()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for requests that only read: on SQLite it does not take the write lock."""
        if self.read_sessions is None:
            raise RuntimeError("database is not configured")
        with self.read_sessions() as session, session.begin():
            session.info["readonly"] = True
            event.listen(session, "before_flush", _refuse_writes)
            yield session

    @contextmanager
    def usage_session(self) -> Iterator[Session]:
        if self.usage_sessions is None:
            raise RuntimeError("database is not configured")
        with self.usage_sessions() as session, session.begin():
            yield session


def _refuse_writes(session: Session, _context, _instances) -> None:
    """A read session never writes: on SQLite its deferred transaction cannot become a writer once another
    commit happened (SQLITE_BUSY at once, busy_timeout does not apply), so a write here is a bug to fix."""
    changed = [o for o in session.dirty if session.is_modified(o)]
    if session.new or session.deleted or changed:
        names = sorted({type(o).__name__ for o in [*session.new, *session.deleted, *changed]})
        raise RuntimeError(f"a read-only request tried to write {', '.join(names)}")


def make_engine(url: str, for_writes: bool = True) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every sqlite run
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover
            # Writers take the write lock at BEGIN so they queue instead of failing with "database is
            # locked" when a read transaction upgrades to a write; readers (WAL) need no lock.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if for_writes else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600, pool_size=10, max_overflow=20,
                         isolation_level="READ COMMITTED")


db = Database()
