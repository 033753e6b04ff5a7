"""How the management server acts on a host: ``call(host, command)`` — the one function VM code uses.

* **KVM hosts** (a running ``cloudstack-agent``): the ``Envelope`` goes to the Celery queue ``agent.<guid>``
  as the task ``agent.execute`` (expiring after ``timeout``, so an agent that comes back later never runs a
  stale command); the agent pushes the ``Answer`` straight into the reply channel of the request (Redis list
  ``cloudstack:reply:<request_id>``, or ``<data dir>/broker/replies/<request_id>.json`` with the file-system
  broker — see ``agent.link``), where ``call`` waits for it. No Celery result backend and no management task
  is involved, so a management worker never waits on another management task.
* **Simulator hosts** need no process: the command runs here, on a ``SimulatorDriver`` kept per host guid
  in this process (``simulator_driver``). That state is **per process** (an API server and two workers
  each have their own), so the VM code treats its own rows as the truth; ``GetVmStates`` on a simulated
  host is answered by the ``SIMULATED_VM_STATES`` callbacks the VM code registers (the first one that
  returns a dict wins; with none, the in-process simulator answers). Before each command the faults
  configured with ``configureSimulator`` are applied (``management.infra.simulator``).
* A host that is not ``Up`` gets no command: ``Answer(ok=False, details="Host <name> is <status>")``.
* No answer within ``timeout`` seconds: ``Answer(ok=False, details="Agent on host <name> did not answer
  within <timeout>s")``; the caller decides what that means (the command may still run on the agent).

Do not hold a write transaction across ``call`` on SQLite: the database write lock would stop the ping
and startup handlers for as long as the agent takes. ``call`` never commits the caller's session.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from agent.hypervisor.simulator import SimulatorDriver
from agent.link import EXECUTE_TASK, REQUEST_STARTUP_TASK, ReplyChannel, agent_queue, execute
from agent.protocol import Answer, Command, Envelope, GetVmStates, PowerState
from management.infra import hosts as host_service
from management.infra import simulator as simulator_mocks
from management.infra.models import Host
from management.settings import Settings, get_settings

log = logging.getLogger(__name__)

# (session, host) -> {instance name: power state} of the VMs the database places on this simulated host,
# or None to pass. ``session`` is the caller's (the host's) session, or a read session.
SIMULATED_VM_STATES: list[Callable[[Session, Host], dict[str, PowerState] | None]] = []

_simulators: dict[str, SimulatorDriver] = {}
_simulators_lock = threading.Lock()
_settings: Settings | None = None
_channels: dict[str, ReplyChannel] = {}


def configure(settings: Settings | None) -> None:
    """Use ``settings`` (broker, data dir) instead of the process settings: tools and tests."""
    global _settings
    _settings = settings
    _channels.clear()


def _current_settings() -> Settings:
    return _settings or get_settings()


def broker_url() -> str:
    settings = _current_settings()
    url = settings.celery_broker_url()
    if url.startswith("filesystem://"):
        return str(Path(settings.data_dir) / "broker")  # the folder, as agents configure it
    return url


def reply_channel() -> ReplyChannel:
    url = broker_url()
    channel = _channels.get(url)
    if channel is None:
        channel = _channels[url] = ReplyChannel.for_broker(url)
    return channel


def simulator_driver(host: Host) -> SimulatorDriver:
    """This process's simulator of ``host`` (created on first use with the host's capacity)."""
    with _simulators_lock:
        driver = _simulators.get(host.guid)
        if driver is None:
            driver = _simulators[host.guid] = SimulatorDriver(
                cpus=host.cpus or 1, cpu_speed_mhz=host.speed or 1000, memory_bytes=host.memory or 0,
                local_storage_bytes=host.local_storage or 0, private_ip=host.private_ip)
        return driver


STATUS_CHECK_SECONDS = 2.0  # how often a caller waiting on an agent looks at its host's status


def call(host: Host, command: Command, timeout: float = 120) -> Answer:
    """Run ``command`` on ``host`` and return its answer (never raises for agent-side failures)."""
    request_id = str(uuid.uuid4())
    if host.status != "Up":
        return Answer(request_id=request_id, ok=False, details=f"Host {host.name} is {host.status}")
    envelope = Envelope(request_id=request_id, command=command)
    if host.hypervisor_type == "Simulator":
        return _call_simulated(host, envelope, timeout)
    return _call_agent(host, envelope, timeout)


def post(host: Host, command: Command, expires: float = 60) -> str | None:
    """Send ``command`` to a real agent without waiting for its answer (clean-ups that must not hold up the
    caller, e.g. stopping a stray VM a ping reported); returns the request id, or None when not sent."""
    if host.hypervisor_type == "Simulator" or not host.guid:
        return None
    envelope = Envelope(request_id=str(uuid.uuid4()), command=command)
    try:
        _send(EXECUTE_TASK, agent_queue(host.guid), [envelope.model_dump_json()], expires=expires)
    except Exception:
        log.warning("cannot send %s to host %s", command.kind, host.name, exc_info=True)
        return None
    return envelope.request_id


def _call_simulated(host: Host, envelope: Envelope, timeout: float) -> Answer:
    session = object_session(host)
    kind = envelope.command.kind
    failure = simulator_mocks.apply(session, host, kind, timeout)
    if failure is not None:
        return Answer(request_id=envelope.request_id, ok=False, details=failure)
    if isinstance(envelope.command, GetVmStates) and SIMULATED_VM_STATES:
        for callback in SIMULATED_VM_STATES:
            states = callback(session, host) if session is not None else _with_read_session(callback, host)
            if states is not None:
                return Answer(request_id=envelope.request_id, ok=True, data={"vm_states": states})
    return execute(simulator_driver(host), envelope)


def _with_read_session(callback, host: Host):
    from management.db import db

    with db.read_session() as session:
        return callback(session, host)


def _send(task: str, queue: str, args: list, expires: float | None = None) -> None:
    from management.jobs.celery import app

    app.send_task(task, args=args, queue=queue, expires=expires)


def _call_agent(host: Host, envelope: Envelope, timeout: float) -> Answer:
    if not host.guid:
        return Answer(request_id=envelope.request_id, ok=False, details=f"Host {host.name} has no agent guid")
    try:
        channel = reply_channel()
        _send(EXECUTE_TASK, agent_queue(host.guid), [envelope.model_dump_json()], expires=timeout)
    except Exception as error:
        log.exception("cannot send %s to host %s", envelope.command.kind, host.name)
        return Answer(request_id=envelope.request_id, ok=False,
                      details=f"Unable to send {envelope.command.kind} to host {host.name}: {error}")
    # Wait in slices and stop waiting as soon as the host is no longer Up (its agent died or lost the
    # broker: host health moves it to Alert within ping.interval x ping.timeout), not only at the timeout.
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        text = channel.get(envelope.request_id, min(left, STATUS_CHECK_SECONDS)) if left > 0 else None
        if text is not None:
            return Answer.model_validate_json(text)
        if left <= STATUS_CHECK_SECONDS:
            return Answer(request_id=envelope.request_id, ok=False,
                          details=f"Agent on host {host.name} did not answer within {timeout:g}s")
        status = _current_status(host.id)
        if status != "Up":
            return Answer(request_id=envelope.request_id, ok=False,
                          details=f"Host {host.name} went {status} while waiting for its answer to "
                                  f"{envelope.command.kind}")


def _current_status(host_id: int) -> str:
    from management.db import db

    with db.read_session() as session:
        return session.scalar(select(Host.status).where(Host.id == host_id)) or "Removed"


def request_startup(guid: str) -> None:
    """Ask the agent ``guid`` to send its startup report again (reconnect, or a ping from an unknown host)."""
    try:
        _send(REQUEST_STARTUP_TASK, agent_queue(guid), [], expires=300)
    except Exception:
        log.exception("cannot ask agent %s for its startup report", guid)


def _reconnect_kvm(session: Session, host: Host) -> None:
    """reconnectHost on a KVM host: it is Connecting now; its agent's next startup report or ping makes it Up."""
    from management.jobs.service import after_commit

    guid = host.guid
    if guid:
        after_commit(session, lambda: request_startup(guid))


host_service.RECONNECT_HANDLERS["KVM"] = _reconnect_kvm
