"""Transactions of long VM jobs, and calls to host agents.

A job's ``run`` gets ``ctx.session``: one transaction that commits when the job ends. A deploy or a stop
commits its intermediate states (Starting, Stopping...) on their own so that other readers see them:
``step(ctx)`` is a short transaction of its own on MySQL. On SQLite the job's transaction holds the single
write lock (BEGIN IMMEDIATE) from the moment the runner touches it, so a second transaction in the same
process would wait for itself: there ``step`` works in ``ctx.session`` and other writers wait for the job.

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
    if ctx.job_id is None or db.is_sqlite:
        yield ctx.session
        ctx.session.flush()
        return
    with db.session() as session:
        yield session


def on_rollback(session: Session, callback: Callable[[], None]) -> None:
    session.info.setdefault(KEY, []).append(callback)


def clear_rollback(session: Session) -> None:
    session.info.pop(KEY, None)


@event.listens_for(Session, "after_commit")
def _forget(session: Session) -> None:
    session.info.pop(KEY, None)


@event.listens_for(Session, "after_rollback")
def _compensate(session: Session) -> None:
    for callback in session.info.pop(KEY, []):
        try:
            callback()
        except Exception:
            log.exception("VM compensation after a failed job did not complete")


def agent_call(host, command, timeout: float = 120):
    """Send ``command`` to the host (in-process for Simulator hosts) and return its Answer."""
    from management.infra import agent_link

    return agent_link.call(host, command, timeout=timeout)
