"""The VM state machine (CloudStack's VirtualMachine.State and its transitions, spec §5.1).

Nobody assigns ``vm.state``: ``transition`` looks the (state, event) pair up in ``TRANSITIONS`` and moves
the row with one compare-and-set UPDATE on ``state`` and ``update_count``, so two workers can never both
move the same VM (the loser gets ``Conflict``). Other columns may change in the same UPDATE (``host_id``...).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from management.db import utcnow
from management.errors import Conflict, InvalidParameter

STOPPED, STARTING, RUNNING, STOPPING = "Stopped", "Starting", "Running", "Stopping"
MIGRATING, DESTROYED, EXPUNGING, ERROR = "Migrating", "Destroyed", "Expunging", "Error"
UNKNOWN, SHUTDOWN = "Unknown", "Shutdown"
STATES = (STOPPED, STARTING, RUNNING, STOPPING, MIGRATING, DESTROYED, EXPUNGING, ERROR, UNKNOWN, SHUTDOWN)
TRANSITIONAL = (STARTING, STOPPING, MIGRATING, EXPUNGING)
ON_HOST = (STARTING, RUNNING, STOPPING, MIGRATING)  # states in which a VM holds host capacity

_OFF_REPORTS = ("AgentReportStopped", "AgentReportShutdowned", "FollowAgentPowerOffReport")
_ON_REPORTS = ("AgentReportRunning", "FollowAgentPowerOnReport")

TRANSITIONS: dict[tuple[str, str], str] = {
    (STOPPED, "StartRequested"): STARTING,
    (STOPPED, "DestroyRequested"): DESTROYED,
    (STOPPED, "ExpungeOperation"): EXPUNGING,
    (STOPPED, "StorageMigrationRequested"): MIGRATING,
    (STOPPED, "OperationFailedToError"): ERROR,
    (STOPPED, "FollowAgentPowerOnReport"): RUNNING,
    (STOPPED, "FollowAgentPowerOffReport"): STOPPED,
    (STARTING, "OperationSucceeded"): RUNNING,
    (STARTING, "OperationFailed"): STOPPED,
    (STARTING, "OperationFailedToError"): ERROR,
    (RUNNING, "StopRequested"): STOPPING,
    (RUNNING, "MigrationRequested"): MIGRATING,
    (RUNNING, "RebootRequested"): RUNNING,
    (RUNNING, "FollowAgentPowerOnReport"): RUNNING,
    (STOPPING, "OperationSucceeded"): STOPPED,
    (STOPPING, "OperationFailed"): RUNNING,
    (MIGRATING, "OperationSucceeded"): RUNNING,
    (MIGRATING, "OperationFailed"): RUNNING,
    (DESTROYED, "RecoveryRequested"): STOPPED,
    (DESTROYED, "ExpungeOperation"): EXPUNGING,
    (ERROR, "DestroyRequested"): EXPUNGING,
    (ERROR, "ExpungeOperation"): EXPUNGING,
    (EXPUNGING, "ExpungeOperation"): EXPUNGING,
    (EXPUNGING, "OperationFailed"): EXPUNGING,
}
for _event in _ON_REPORTS:
    TRANSITIONS[(STARTING, _event)] = RUNNING
    TRANSITIONS[(STOPPING, _event)] = RUNNING
    TRANSITIONS[(MIGRATING, _event)] = RUNNING
for _event in _OFF_REPORTS:
    for _state in (STARTING, RUNNING, STOPPING, MIGRATING):
        TRANSITIONS[(_state, _event)] = STOPPED

# What the API calls the action an event stands for, in "cannot <verb>" messages.
VERBS = {"StartRequested": "start", "StopRequested": "stop", "DestroyRequested": "destroy",
         "ExpungeOperation": "expunge", "RecoveryRequested": "recover", "MigrationRequested": "migrate",
         "RebootRequested": "reboot", "StorageMigrationRequested": "migrate its storage"}


def next_state(state: str, event: str) -> str | None:
    return TRANSITIONS.get((state, event))


def can(vm, event: str) -> bool:
    return next_state(vm.state, event) is not None


def check(vm, event: str) -> str:
    """The state ``event`` leads to from the VM's current state; 431 when the move is not allowed."""
    target = next_state(vm.state, event)
    if target is None:
        verb = VERBS.get(event, event)
        raise InvalidParameter(f"VM {vm.uuid} is in state {vm.state}, cannot {verb} it")
    return target


def transition(session: Session, vm, event: str, *, expected: str | None = None, **values) -> str:
    """Move ``vm`` along ``event`` with a compare-and-set; returns the new state.

    ``expected`` (optional) is the state the caller believes the VM is in; ``values`` are other columns
    to set in the same UPDATE. Raises 431 for a move the machine forbids and ``Conflict`` when another
    writer changed the row since it was read."""
    from management.compute.vm_models import VMInstance

    if expected is not None and vm.state != expected:
        raise Conflict(entity="VM", id=vm.uuid, state=vm.state, expected=expected)
    old, count = vm.state, vm.update_count
    new = check(vm, event)
    now = utcnow()
    done = session.execute(update(VMInstance)
                           .where(VMInstance.id == vm.id, VMInstance.state == old,
                                  VMInstance.update_count == count)
                           .values(state=new, update_count=count + 1, updated=now, **values)
                           .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.refresh(vm)
        raise Conflict(entity="VM", id=vm.uuid, state=vm.state, expected=old)
    set_committed_value(vm, "state", new)
    set_committed_value(vm, "update_count", count + 1)
    set_committed_value(vm, "updated", now)
    for key, value in values.items():
        set_committed_value(vm, key, value)
    return new
