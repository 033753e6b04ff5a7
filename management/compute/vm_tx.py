"""Transactions of long VM jobs, and calls to host agents.

A job's ``run`` gets ``ctx.session``: one transaction that commits when the job ends. A deploy or a stop
commits its intermediate states (Starting, Stopping...) on their own so that other readers see them:
``step(ctx)`` is a short transaction of its own on MySQL. On SQLite a second transaction in the same process
would wait for the job's own (the single write lock, BEGIN IMMEDIATE): there ``step`` works in
``ctx.session`` and commits it at the end of the step, so between steps — while the job waits on an agent —
the lock is free for other writers (the API, other jobs) and the steps are durable, as on MySQL.

Because an error rolls ``ctx.session`` back, whatever must survive a failure (a VM moved to Error, its
capacity and address released) is registered with ``on_rollback``: it runs in a fresh transaction once
the job's own transaction is gone, on both backends, reading the state as it was left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session

from management.context import Context
from management.db import db

log = logging.getLogger(__name__)
KEY = "vm_on_rollback"


@contextmanager
def step(ctx: Context) -> Iterator[Session]:
    if ctx.job_id is None:
        yield ctx.session
        ctx.session.flush()
        return
    if db.is_sqlite:
        yield ctx.session
        _commit_keeping_compensations(ctx.session)
        return
    with db.session() as session:
        yield session


def _commit_keeping_compensations(session: Session) -> None:
    """SQLite: end the job's transaction at the end of each step, so the single write lock is free while the
    job waits on an agent (the next statement takes it again); the compensations registered so far stay."""
    pending = session.info.pop(KEY, None)
    try:
        session.commit()
    finally:
        if pending:
            session.info[KEY] = pending
    session.begin()  # so that a failure after this step still rolls a transaction back (and compensates)


def on_rollback(session: Session, callback: Callable[[], None]) -> None:
    session.info.setdefault(KEY, []).append(callback)


def clear_rollback(session: Session) -> None:
    session.info.pop(KEY, None)


@event.listens_for(Session, "after_commit")
def _forget(session: Session) -> None:
    session.info.pop(KEY, None)


@event.listens_for(Session, "after_soft_rollback")
def _compensate(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is not None:
        return  # a savepoint (begin_nested) rolled back: the job goes on
    for callback in session.info.pop(KEY, []):
        try:
            callback()
        except Exception:
            log.exception("VM compensation after a failed job did not complete")


def agent_call(host, command, timeout: float = 120):
    """Send ``command`` to the host (in-process for Simulator hosts) and return its Answer."""
    from management.infra import agent_link

    return agent_link.call(host, command, timeout=timeout)
