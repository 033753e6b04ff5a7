"""Periodic work shared by every worker: each task runs on one node at a time under a lease row."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from management.db import db, utcnow
from management.jobs import node
from management.jobs.models import Lease, ManagementServer
from management.version import __version__

log = logging.getLogger(__name__)


@dataclass
class PeriodicTask:
    name: str
    interval: float  # seconds
    func: Callable[[], object]
    last_run: float = 0.0


TASKS: list[PeriodicTask] = []


def periodic(name: str, interval: float):
    """Register ``func`` to run every ``interval`` seconds on one node of the cluster."""

    def wrap(func):
        TASKS.append(PeriodicTask(name, interval, func))
        return func

    return wrap


def acquire(name: str, ttl: float) -> bool:
    """Take or renew the lease ``name`` for ``ttl`` seconds; False if another live node holds it."""
    me, now = node.name(), utcnow()
    with db.session() as session:
        if session.get(Lease, name) is None:
            try:
                with session.begin_nested():
                    session.add(Lease(name=name, holder=None, expires=now))
            except IntegrityError:
                pass
        result = session.execute(update(Lease).where(Lease.name == name,
                                                     or_(Lease.holder == me, Lease.holder.is_(None),
                                                         Lease.expires < now))
                                 .values(holder=me, expires=now + timedelta(seconds=ttl)))
        return result.rowcount == 1


def register_node(kind: str) -> None:
    with db.session() as session:
        row = session.scalar(select(ManagementServer).where(ManagementServer.name == node.name()))
        if row is None:
            session.add(ManagementServer(name=node.name(), kind=kind, version=__version__, pid=os.getpid()))
        else:
            row.state, row.last_update = "Up", utcnow()


def beat_node() -> None:
    with db.session() as session:
        session.execute(update(ManagementServer).where(ManagementServer.name == node.name())
                        .values(last_update=utcnow(), state="Up"))


def run_due(now: float) -> None:
    for task in TASKS:
        if now - task.last_run < task.interval:
            continue
        task.last_run = now
        try:
            if acquire(task.name, task.interval * 2 + 5):
                task.func()
        except Exception:
            log.exception("periodic task %s failed", task.name)


class Scheduler:
    """A daemon thread that beats this node's mshost row and runs due periodic tasks."""

    def __init__(self, kind: str, tick: float = 1.0) -> None:
        self.kind, self.tick = kind, tick
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="periodic", daemon=True)

    def start(self) -> None:
        import management.jobs.scheduled  # noqa: F401  (registers the built-in periodic tasks)

        register_node(self.kind)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)

    def _loop(self) -> None:
        import time

        beat_at = 0.0
        while not self.stop_event.wait(self.tick):
            now = time.monotonic()
            try:
                if now - beat_at > 10:
                    beat_node()
                    beat_at = now
                run_due(now)
            except Exception:
                log.exception("scheduler tick failed")
