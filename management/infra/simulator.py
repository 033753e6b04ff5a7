"""Fault injection for simulated hosts: CloudStack's ``configureSimulator`` (+ ``querySimulatorMock``,
``cleanupSimulatorMock``), stored in the ``simulator_mock`` table so every process sees it.

``configureSimulator name=<command> value=<options> [zoneid|podid|clusterid|hostid] [count]``:

* ``name``: the command to tamper with — ours (``StartVm``, ``StopVm``, ``RebootVm``, ``MigrateVm``,
  ``CreateVolume``, ``DeleteVolume``, ``CopyImage``, ``GetVmStates``) or CloudStack's (``StartCommand``,
  ``StopCommand``, ``RebootCommand``, ``MigrateCommand``, ``CreateCommand``/``CreateObjectCommand``,
  ``DeleteCommand``/``DestroyCommand``, ``CopyCommand``, ``CheckVirtualMachineCommand``), and ``Ping``
  (``PingCommand``/``PingRoutingCommand``): the host health task skips the simulated host's ping, so it goes
  Alert then Down as a dead host would.
* ``value``: ``;``-separated options — ``wait:<ms>`` (delay before the command runs), ``result:fail`` (or
  ``result:success``), ``message:<text>`` (the failure details), ``count:<n>`` (only the next n commands).
* scope: the most specific matching mock wins (host, then cluster, pod, zone, then global).

``count`` is consumed outside the caller's transaction (a caller that fails and rolls back still used up
its try): at once on MySQL, and on SQLite — where the caller's transaction holds the database write lock —
as soon as that transaction ends.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, event, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from management.api.native.params import Param
from management.api.native.registry import ADMINS, Command, Success, command
from management.api.native.responses import ResponseObject
from management.context import Context
from management.db import Base, UtcDateTime, UuidMixin, db, utcnow
from management.errors import InvalidParameter
from management.infra.models import Cluster, Host, Pod, Zone

log = logging.getLogger(__name__)

ALIASES = {
    "startvm": "StartVm", "startcommand": "StartVm",
    "stopvm": "StopVm", "stopcommand": "StopVm",
    "rebootvm": "RebootVm", "rebootcommand": "RebootVm",
    "migratevm": "MigrateVm", "migratecommand": "MigrateVm",
    "prepareformigration": "PrepareForMigration", "prepareformigrationcommand": "PrepareForMigration",
    "scalevm": "ScaleVm", "scalevmcommand": "ScaleVm",
    "createvolume": "CreateVolume", "createcommand": "CreateVolume", "createobjectcommand": "CreateVolume",
    "deletevolume": "DeleteVolume", "deletecommand": "DeleteVolume", "destroycommand": "DeleteVolume",
    "copyimage": "CopyImage", "copycommand": "CopyImage",
    "getvmstates": "GetVmStates", "checkvirtualmachinecommand": "GetVmStates",
    "vmsnapshot": "VmSnapshot", "createvmsnapshotcommand": "VmSnapshot", "deletevmsnapshotcommand": "VmSnapshot",
    "reverttovmsnapshotcommand": "VmSnapshot",
    "ping": "Ping", "pingcommand": "Ping", "pingroutingcommand": "Ping",
}


def command_kind(name: str) -> str:
    return ALIASES.get(name.strip().lower(), name.strip())


class SimulatorMock(UuidMixin, Base):
    __tablename__ = "simulator_mock"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)  # our command kind (see ALIASES), or "Ping"
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("data_center.id"))
    pod_id: Mapped[int | None] = mapped_column(ForeignKey("host_pod_ref.id"))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("cluster.id"))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("host.id"))
    wait_ms: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str] = mapped_column(String(16), default="fail")  # fail | success
    message: Mapped[str | None] = mapped_column(String(1024))
    count: Mapped[int | None] = mapped_column(Integer)  # commands left to tamper with; None: all of them
    value: Mapped[str] = mapped_column(String(1024))  # as given
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime)


def parse_value(value: str) -> dict:
    options: dict = {"wait_ms": 0, "result": "success", "message": None, "count": None}
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        key, _, raw = part.partition(":")
        key, raw = key.strip().lower(), raw.strip()
        if key == "wait":
            if not raw.isdigit():
                raise InvalidParameter(f"Invalid parameter value value={value}: wait takes milliseconds")
            options["wait_ms"] = int(raw)
        elif key == "result":
            if raw.lower() not in ("fail", "failure", "false", "success", "ok", "true"):
                raise InvalidParameter(f"Invalid parameter value value={value}: result is fail or success")
            options["result"] = "fail" if raw.lower() in ("fail", "failure", "false") else "success"
        elif key == "message":
            options["message"] = raw
        elif key == "count":
            if not raw.isdigit():
                raise InvalidParameter(f"Invalid parameter value value={value}: count takes a number")
            options["count"] = int(raw)
        else:
            raise InvalidParameter(f"Invalid parameter value value={value}: unknown option {key} (wait, result, "
                                   "message, count)")
    return options


def _matching(session: Session, host: Host, kind: str) -> SimulatorMock | None:
    rows = session.scalars(select(SimulatorMock).where(
        SimulatorMock.name == kind, SimulatorMock.removed.is_(None),
        (SimulatorMock.count.is_(None)) | (SimulatorMock.count > 0))).all()

    def applies(m: SimulatorMock) -> bool:
        return all(getattr(m, col) in (None, value) for col, value in (
            ("host_id", host.id), ("cluster_id", host.cluster_id), ("pod_id", host.pod_id), ("zone_id", host.zone_id)))

    candidates = [m for m in rows if applies(m)]
    if not candidates:
        return None
    return max(candidates, key=lambda m: (m.host_id is not None, m.cluster_id is not None, m.pod_id is not None,
                                          m.zone_id is not None, m.id))


def consume(session: Session | None, host: Host, kind: str) -> SimulatorMock | None:
    """The mock that applies to ``kind`` on ``host`` (None if none), using up one of its ``count``."""
    if session is None:
        with db.read_session() as own:
            mock = _matching(own, host, kind)
    else:
        mock = _matching(session, host, kind)
    if mock is not None and mock.count is not None:
        _use_one(session, mock.id)
    return mock


def _use_one(session: Session | None, mock_id: int) -> None:
    holds_write_lock = (session is not None and db.is_sqlite and session.in_transaction()
                        and not session.info.get("readonly"))
    if holds_write_lock:
        session.info.setdefault("simulator_mock_used", []).append(mock_id)
        return
    _decrement([mock_id])


def _decrement(ids: list[int]) -> None:
    try:
        with db.session() as own:
            for mock_id in ids:
                own.execute(update(SimulatorMock).where(SimulatorMock.id == mock_id, SimulatorMock.count > 0)
                            .values(count=SimulatorMock.count - 1).execution_options(synchronize_session=False))
    except Exception:
        log.exception("could not use up simulator mocks %s", ids)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None and session.info.get("simulator_mock_used"):
        _decrement(session.info.pop("simulator_mock_used"))


def apply(session: Session | None, host: Host, kind: str, timeout: float) -> str | None:
    """Apply the mock of ``kind`` on ``host``: sleep its ``wait``; return the failure details, or None to go on."""
    mock = consume(session, host, kind)
    if mock is None:
        return None
    if mock.wait_ms:
        time.sleep(min(mock.wait_ms / 1000, timeout))
        if mock.wait_ms / 1000 > timeout:
            return f"Agent on host {host.name} did not answer within {timeout:g}s"
    if mock.result == "fail":
        return mock.message or f"Simulated failure of {kind} on host {host.name}"
    return None


def has_ping_mocks(session: Session) -> bool:
    return session.scalar(select(SimulatorMock.id).where(
        SimulatorMock.name == "Ping", SimulatorMock.removed.is_(None),
        (SimulatorMock.count.is_(None)) | (SimulatorMock.count > 0)).limit(1)) is not None


def ping_fails(session: Session, host: Host) -> bool:
    """Whether a ``Ping`` mock makes this simulated host miss its ping now."""
    mock = consume(session, host, "Ping")
    return mock is not None and mock.result == "fail"


# --- API ---------------------------------------------------------------------------------------------------

class MockResponse(ResponseObject):
    object_name = "mock"
    id: str
    name: str
    zoneid: str | None = None
    podid: str | None = None
    clusterid: str | None = None
    hostid: str | None = None
    count: int | None = None


def mock_view(session: Session, mock: SimulatorMock) -> MockResponse:
    def uuid_of(model, key):
        return session.get(model, key).uuid if key is not None else None

    return MockResponse(id=mock.uuid, name=mock.name, zoneid=uuid_of(Zone, mock.zone_id),
                        podid=uuid_of(Pod, mock.pod_id), clusterid=uuid_of(Cluster, mock.cluster_id),
                        hostid=uuid_of(Host, mock.host_id), count=mock.count)


@command("configureSimulator", response=MockResponse, roles=ADMINS)
class ConfigureSimulator(Command):
    """configure simulator"""

    zoneid = Param("uuid", entity=Zone, description="configure range: in a zone")
    podid = Param("uuid", entity=Pod, description="configure range: in a pod")
    clusterid = Param("uuid", entity=Cluster, description="configure range: in a cluster")
    hostid = Param("uuid", entity=Host, description="configure range: in a host")
    name = Param(required=True, description="which command needs to be configured")
    value = Param(required=True, length=1024, description="configuration options for this command, which is "
                                                          "separated by ;")
    count = Param("integer", min=0, description="number of times the mock is active")
    jsonresponse = Param(length=4096, description="agent command response to be returned (not supported)")

    def handle(self, ctx: Context) -> MockResponse:
        options = parse_value(self.value)
        if self.count is not None:
            options["count"] = self.count
        host, cluster, pod, zone = self.hostid, self.clusterid, self.podid, self.zoneid
        if host is not None:
            cluster = cluster or (ctx.session.get(Cluster, host.cluster_id) if host.cluster_id else None)
        if cluster is not None:
            pod = pod or ctx.session.get(Pod, cluster.pod_id)
        if pod is not None:
            zone = zone or ctx.session.get(Zone, pod.zone_id)
        mock = SimulatorMock(name=command_kind(self.name), value=self.value, zone_id=zone.id if zone else None,
                             pod_id=pod.id if pod else None, cluster_id=cluster.id if cluster else None,
                             host_id=host.id if host else None, wait_ms=options["wait_ms"], result=options["result"],
                             message=options["message"], count=options["count"])
        ctx.session.add(mock)
        ctx.session.flush()
        return mock_view(ctx.session, mock)


@command("querySimulatorMock", response=MockResponse, roles=ADMINS)
class QuerySimulatorMock(Command):
    """query simulator mock"""

    id = Param("uuid", entity=SimulatorMock, required=True, description="id of the configured mock")

    def handle(self, ctx: Context) -> MockResponse:
        return mock_view(ctx.session, self.id)


@command("cleanupSimulatorMock", roles=ADMINS)
class CleanupSimulatorMock(Command):
    """cleanup simulator mock"""

    id = Param("uuid", entity=SimulatorMock, required=True, description="id of the configured mock")

    def handle(self, ctx: Context) -> Success:
        self.id.removed = utcnow()
        return Success()
