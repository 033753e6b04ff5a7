"""Host health: the periodic monitor of the connection state (CloudStack's status machine, native-api §5.3).

Every ``ping.interval / 2`` seconds (read at each check; at least 1 s), on one node at a time:

* **Simulated hosts** are pinged here (they have no agent): Up ones get a fresh ``last_ping``; Alert,
  Disconnected or Connecting ones are Up again (``Ping``). A ``configureSimulator name=Ping
  value=result:fail`` mock makes the host miss its pings, so it goes Alert then Down like a dead host; a
  Down simulated host stays Down until ``reconnectHost``.
* **Behind on ping** — an Up, Connecting or Disconnected host whose ``last_ping`` is older than
  ``ping.interval * ping.timeout``: -> **Alert** (``PingTimeout``), with an ALERT.COMPUTE.HOST alert.
* **Down** — an Alert host silent for another ``min(alert.wait, ping.interval * ping.timeout)`` seconds
  (we have no investigator to ask; this second wait stands in for it): -> **Down** (``HostDown``),
  ``disconnected`` set, an alert, and every ``HOST_DOWN_HANDLERS`` entry is called (VM HA).

Every transition is a compare-and-set ``UPDATE host SET status=:new WHERE id=:id AND status=:old``, so
a ping that arrives meanwhile wins. Agent pings themselves are handled in ``agent_tasks``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from management.config import service as config
from management.db import db, utcnow
from management.events import alerts
from management.infra import simulator as simulator_mocks
from management.infra.models import Host
from management.jobs.periodic import periodic

log = logging.getLogger(__name__)

# (session, host) once a host went Down (HostDown); runs in the monitor's transaction, in a savepoint.
HOST_DOWN_HANDLERS: list[Callable[[Session, Host], None]] = []
# (session, host) once a host went to Alert (PingTimeout).
HOST_ALERT_HANDLERS: list[Callable[[Session, Host], None]] = []

_last_check = 0.0
_last_purge = 0.0


def transit(session: Session, host: Host, old: str, new: str, **values) -> bool:
    """Compare-and-set of the connection state; False if the host is no longer ``old``."""
    done = session.execute(update(Host).where(Host.id == host.id, Host.status == old)
                           .values(status=new, **values).execution_options(synchronize_session=False))
    if done.rowcount == 1:
        session.refresh(host)
        return True
    return False


def timings(session: Session) -> tuple[float, float, float]:
    """(ping interval, behind-on-ping limit, extra wait before Down) in seconds, from the global settings."""
    interval = max(1, config.get_int(session, "ping.interval"))
    limit = interval * max(1.0, config.get_float(session, "ping.timeout"))
    return interval, limit, min(float(config.get_int(session, "alert.wait")), limit)


@periodic("infra.host_health", interval=1.0)
def check_hosts() -> None:
    global _last_check
    now_mono = time.monotonic()
    with db.read_session() as session:
        interval = max(1, config.get_int(session, "ping.interval"))
    if now_mono - _last_check < max(1.0, interval / 2) - 0.05:
        return
    _last_check = now_mono
    with db.session() as session:
        check(session)
    _purge_replies(now_mono)


def check(session: Session) -> None:
    _interval, limit, extra = timings(session)
    now = utcnow()
    _ping_simulated(session, now)
    behind = session.scalars(select(Host).where(
        Host.removed.is_(None), Host.status.in_(("Up", "Connecting", "Disconnected")),
        or_(Host.last_ping.is_(None), Host.last_ping < now - timedelta(seconds=limit)))).all()
    for host in behind:
        old = host.status
        if transit(session, host, old, "Alert"):
            log.warning("host %s is behind on ping (last ping %s): %s -> Alert", host.name, host.last_ping, old)
            alerts.raise_alert(session, alerts.HOST, f"Host {host.name} ({host.private_ip}) is not responding: no "
                               f"ping for over {limit:g}s", zone_id=host.zone_id, pod_id=host.pod_id,
                               cluster_id=host.cluster_id)
            _run(session, HOST_ALERT_HANDLERS, host)
    dead = session.scalars(select(Host).where(
        Host.removed.is_(None), Host.status == "Alert",
        or_(Host.last_ping.is_(None), Host.last_ping < now - timedelta(seconds=limit + extra)))).all()
    for host in dead:
        if transit(session, host, "Alert", "Down", disconnected=now):
            log.warning("host %s is Down (last ping %s)", host.name, host.last_ping)
            alerts.raise_alert(session, alerts.HOST, f"Host {host.name} ({host.private_ip}) is down",
                               zone_id=host.zone_id, pod_id=host.pod_id, cluster_id=host.cluster_id)
            _run(session, HOST_DOWN_HANDLERS, host)


def _ping_simulated(session: Session, now) -> None:
    hosts = session.scalars(select(Host).where(
        Host.removed.is_(None), Host.hypervisor_type == "Simulator",
        Host.status.in_(("Up", "Connecting", "Alert", "Disconnected")))).all()
    fresh: list[int] = []
    mocked = simulator_mocks.has_ping_mocks(session)
    for host in hosts:
        if mocked and simulator_mocks.ping_fails(session, host):
            continue
        if host.status == "Up":
            fresh.append(host.id)
        elif transit(session, host, host.status, "Up", last_ping=now, disconnected=None):
            log.info("simulated host %s is Up again", host.name)
    for start in range(0, len(fresh), 500):
        session.execute(update(Host).where(Host.id.in_(fresh[start:start + 500]), Host.status == "Up")
                        .values(last_ping=now).execution_options(synchronize_session=False))


def _run(session: Session, handlers: list, host: Host) -> None:
    for handler in handlers:
        try:
            with session.begin_nested():
                handler(session, host)
        except Exception:
            log.exception("host handler %s failed for %s", getattr(handler, "__name__", handler), host.name)


def _purge_replies(now_mono: float) -> None:
    """Answers nobody waited for any more (file-system reply channel) are removed now and then."""
    global _last_purge
    if now_mono - _last_purge < 300:
        return
    _last_purge = now_mono
    try:
        from management.infra import agent_link

        agent_link.reply_channel().purge()
    except Exception:
        log.debug("reply purge failed", exc_info=True)
