"""What agents send to the management servers (Celery tasks on the ``management`` queue).

* ``management.agent.startup`` (a ``StartupReport`` JSON): the host is found by the zone/pod/cluster uuids
  (or numeric ids) of the report — or, for a host we know already, where it is — and ``register_host``
  creates or updates it (Connecting -> Up, ``last_ping`` now).
* ``management.agent.ping`` (a ``PingReport`` JSON): ``last_ping`` is refreshed; a host in Alert,
  Disconnected or Connecting is Up again (CloudStack's ``Ping`` event, a compare-and-set); a host we do not
  know, or one that is Down, is asked for its startup report. Then every ``PING_HANDLERS`` entry gets the
  VM power states (each in its own savepoint: a failing handler is logged and rolled back alone).

Handlers must be fast: every host pings every ``ping.interval`` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from agent.protocol import PingReport, PowerState, StartupReport
from management.db import db, utcnow
from management.errors import CloudError
from management.events import alerts
from management.infra import (
    agent_link,
    health,  # noqa: F401  (registers the host health periodic task)
)
from management.infra.hosts import register_host
from management.infra.models import Cluster, Host, Pod, Zone
from management.jobs.celery import app
from management.jobs.service import after_commit

log = logging.getLogger(__name__)

# (session, host, {instance name: power state}) for every ping of an agent (KVM) host.
PING_HANDLERS: list[Callable[[Session, Host, dict[str, PowerState]], None]] = []
# (session, host) after an agent's startup report brought its host Up.
STARTUP_HANDLERS: list[Callable[[Session, Host], None]] = []

RETURNING = ("Alert", "Disconnected", "Connecting")


def _find(session: Session, model, key: str | None):
    if not key:
        return None
    row = session.scalar(select(model).where(model.uuid == key))
    if row is None and key.isdigit():
        row = session.get(model, int(key))
    if row is not None and getattr(row, "removed", None) is not None:
        return None
    return row


def handle_startup(report: StartupReport) -> Host | None:
    with db.session() as session:
        known = session.scalar(select(Host).where(Host.guid == report.guid, Host.removed.is_(None)))
        zone = _find(session, Zone, report.zone_uuid) or (session.get(Zone, known.zone_id) if known else None)
        if zone is None:
            log.warning("agent %s (%s) reported zone %r, which does not exist: not registered", report.name,
                        report.guid, report.zone_uuid)
            return None
        pod = _find(session, Pod, report.pod_uuid)
        cluster = _find(session, Cluster, report.cluster_uuid)
        if cluster is not None and cluster.hypervisor_type != report.hypervisor:
            log.warning("agent %s: cluster %s is a %s cluster, the host is %s: not attached", report.guid,
                        cluster.name, cluster.hypervisor_type, report.hypervisor)
            cluster = None
        try:
            with session.begin_nested():
                host = register_host(session, report, zone=zone, pod=pod, cluster=cluster)
        except CloudError as error:
            log.warning("agent %s (%s) not registered: %s", report.name, report.guid, error)
            return None
        log.info("host %s (%s) is Up (startup report)", host.name, host.guid)
        _run_handlers(session, STARTUP_HANDLERS, host)
        return host


def handle_ping(ping: PingReport) -> None:
    with db.session() as session:
        host = session.scalar(select(Host).where(Host.guid == ping.guid, Host.removed.is_(None)))
        if host is None or host.status not in ("Up",) + RETURNING:
            log.info("ping from %s (%s): asking for its startup report", ping.guid,
                     "unknown host" if host is None else host.status)
            after_commit(session, lambda: agent_link.request_startup(ping.guid))
            return
        now = utcnow()
        if host.status == "Up":
            session.execute(update(Host).where(Host.id == host.id).values(last_ping=now)
                            .execution_options(synchronize_session=False))
        else:
            old = host.status
            done = session.execute(update(Host).where(Host.id == host.id, Host.status == old)
                                   .values(status="Up", last_ping=now, disconnected=None)
                                   .execution_options(synchronize_session=False))
            if done.rowcount == 1:
                log.info("host %s is Up again (ping; was %s)", host.name, old)
                alerts.raise_alert(session, alerts.HOST, f"Host {host.name} ({host.private_ip}) is Up again "
                                   f"(was {old})", zone_id=host.zone_id, pod_id=host.pod_id, cluster_id=host.cluster_id)
        session.refresh(host)
        _run_handlers(session, PING_HANDLERS, host, ping.vm_states)


def _run_handlers(session: Session, handlers: list, *args) -> None:
    for handler in handlers:
        try:
            with session.begin_nested():
                handler(session, *args)
        except Exception:
            log.exception("handler %s failed", getattr(handler, "__name__", handler))


@app.task(name="management.agent.startup", acks_late=True, ignore_result=True)
def agent_startup(report_json: str) -> None:
    handle_startup(StartupReport.model_validate_json(report_json))


@app.task(name="management.agent.ping", acks_late=True, ignore_result=True)
def agent_ping(ping_json: str) -> None:
    handle_ping(PingReport.model_validate_json(ping_json))
