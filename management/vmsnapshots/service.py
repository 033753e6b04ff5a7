"""VM snapshots of stopped VMs, as CloudStack's KVM agent takes them for a VM that is not running: an internal
qcow2 snapshot in each of the VM's disk files, taken, reverted to and deleted all together by one host that
reaches the VM's pools (``VmSnapshot`` agent command).

A request creates the row (Allocated) after its checks; the job moves it Creating → Ready (or Error, removed,
with the reason). While one of a VM's snapshots is being created, reverted or deleted the VM cannot start;
while it has any, its set of disks is pinned (no attach, detach, resize, migration or restore of volumes:
the snapshots live inside the files), as CloudStack refuses those too. Snapshots of running VMs (which
need the memory state) are not supported yet: the request says so."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.protocol_snapshots import VmSnapshot
from management.compute import states, vm_lifecycle, vms
from management.compute.vm_models import VMInstance, Volume
from management.compute.vm_tx import agent_call, step
from management.config import service as config
from management.context import Caller, Context
from management.db import utcnow
from management.errors import CloudError, InvalidParameter, ResourceUnavailable
from management.events import service as events
from management.iam.access import Scope
from management.infra.models import Host
from management.pagination import page
from management.storage import pool_hosts
from management.storage.models import StoragePool
from management.tags import service as tags
from management.vmsnapshots.models import VMSnapshot, VMSnapshotState

log = logging.getLogger(__name__)
S = VMSnapshotState
TIMEOUT = 600


def _active(session: Session, vm_id: int):
    return select(VMSnapshot).where(VMSnapshot.vm_id == vm_id, VMSnapshot.removed.is_(None))


def busy_check(session: Session, vm: VMInstance, action: str) -> None:
    """``vm_lifecycle.BUSY_CHECKS``: no start while a snapshot task runs; no disk change while snapshots exist."""
    rows = list(session.scalars(_active(session, vm.id)))
    if any(r.state in S.BUSY for r in rows):
        raise InvalidParameter(f"There is other active vm snapshot tasks on the instance {vm.uuid}, please try "
                               "again later")
    if rows and action != "start":
        raise InvalidParameter(f"Unable to {action}: VM {vm.uuid} has VM snapshots; please delete them first")


def _disks(session: Session, vm: VMInstance) -> tuple[list[str], Host]:
    """The VM's disk files and a host that reaches every one of their pools; 431 when they are not all made."""
    volumes = list(session.scalars(select(Volume).where(Volume.vm_id == vm.id, Volume.removed.is_(None))
                                   .order_by(Volume.device_id, Volume.id)))
    if not volumes or any(v.state != "Ready" or not v.path or v.pool_id is None for v in volumes):
        raise InvalidParameter(f"VM {vm.uuid} has volumes that are not created yet (start it once) or are busy: "
                               "a VM snapshot needs all of them Ready")
    pools = [session.get(StoragePool, v.pool_id) for v in volumes]
    for host in pool_hosts.reaching(session, pools[0], prefer=vm.last_host_id):
        if all(p.scope != "CLUSTER" or p.cluster_id == host.cluster_id for p in pools) and \
                all(p.scope != "HOST" or p.host_id == host.id for p in pools):
            session.expunge(host)
            return [v.path for v in volumes], host
    raise ResourceUnavailable(f"No Up host reaches the storage of VM {vm.uuid}")


@dataclass
class CreateRequest:
    vm: VMInstance
    name: str | None
    description: str | None
    memory: bool
    quiesce: bool


def allocate(session: Session, caller: Caller, req: CreateRequest) -> VMSnapshot:
    """createVMSnapshot's checks (431 naming the parameter) and the Allocated row."""
    vm = req.vm
    vms.check_access(session, caller, vm)
    if req.quiesce:
        raise InvalidParameter("Quiescing the VM is not supported for VM snapshots on this hypervisor (quiescevm)")
    if req.memory or vm.state == states.RUNNING:
        raise InvalidParameter(f"VM {vm.uuid} is {vm.state}: VM snapshots are taken of stopped VMs only (snapshots "
                               "of a running VM with its memory are not supported yet); stop it first "
                               "(virtualmachineid, snapshotmemory)")
    if vm.state != states.STOPPED:
        raise InvalidParameter(f"Creating VM snapshot failed due to VM {vm.uuid} is in state {vm.state}: it must be "
                               "Stopped (virtualmachineid)")
    if vm.hypervisor_type not in ("KVM", "Simulator"):
        raise InvalidParameter(f"VM snapshots are not supported for hypervisor {vm.hypervisor_type}")
    busy_check(session, vm, "start")
    _disks(session, vm)
    limit = config.get_int(session, "vmsnapshot.max")
    if session.scalar(select(func.count()).select_from(_active(session, vm.id).subquery())) >= limit:
        raise InvalidParameter(f"Creating vm snapshot failed due to a VM can just have : {limit} VM snapshots. "
                               "Please delete old ones")
    display = (req.name or "").strip()
    if len(display) > 255:
        raise InvalidParameter("The name of a VM snapshot takes at most 255 characters (name)")
    stamp = utcnow().strftime("%Y%m%d%H%M%S%f")
    name = f"{vm.instance_name}_VS_{stamp}"
    display = display or name
    if session.scalar(_active(session, vm.id).where(VMSnapshot.display_name == display).limit(1)) is not None:
        raise InvalidParameter(f"Creating VM snapshot failed due to VM snapshot with name {display} already exists "
                               "(name)")
    row = VMSnapshot(name=name, display_name=display, description=req.description, vm_id=vm.id,
                     account_id=vm.account_id, domain_id=vm.domain_id, type="Disk", state=S.ALLOCATED)
    session.add(row)
    session.flush()
    return row


def _locked(session: Session, snapshot_id: int) -> tuple[VMSnapshot, VMInstance]:
    snapshot = session.get(VMSnapshot, snapshot_id, populate_existing=True)
    vm = session.get(VMInstance, snapshot.vm_id, with_for_update=True, populate_existing=True)
    return snapshot, vm


def _ask(host: Host, command: VmSnapshot) -> str | None:
    try:
        answer = agent_call(host, command, timeout=TIMEOUT)
    except CloudError as error:
        return error.message
    return None if answer.ok else (answer.details or f"{command.kind} failed on host {host.name}")


def _usage(session: Session, type_: str, snapshot: VMSnapshot, vm: VMInstance) -> None:
    size = session.scalar(select(func.coalesce(func.sum(Volume.size), 0)).where(
        Volume.vm_id == vm.id, Volume.removed.is_(None))) or 0
    events.record_usage(session, type_, account_id=vm.account_id, zone_id=vm.zone_id, resource_id=vm.id,
                        resource_name=snapshot.display_name, offering_id=vm.service_offering_id,
                        template_id=vm.template_id, size=int(size), details={"vmSnapshotId": snapshot.uuid})


def _event(session: Session, caller: Caller, type_: str, text: str, snapshot: VMSnapshot) -> None:
    events.record(session, caller, type_, text, resource=snapshot, resource_type="VMSnapshot",
                  account_id=snapshot.account_id, domain_id=snapshot.domain_id)


def take(ctx: Context, snapshot_id: int) -> None:
    """The createVMSnapshot job."""
    with step(ctx) as s:
        snapshot, vm = _locked(s, snapshot_id)
        if vm.state != states.STOPPED:
            raise InvalidParameter(f"VM {vm.uuid} is {vm.state}: it must stay Stopped while its snapshot is taken")
        if any(r.id != snapshot.id and r.state in S.BUSY for r in s.scalars(_active(s, vm.id))):
            raise InvalidParameter(f"There is other active vm snapshot tasks on the instance {vm.uuid}, please try "
                                   "again later")
        disks, host = _disks(s, vm)
        snapshot.state = S.CREATING
        command = VmSnapshot(action="create", vm_name=vm.instance_name, disks=disks, snapshot_name=snapshot.name)
    problem = _ask(host, command)
    with step(ctx) as s:
        snapshot, vm = _locked(s, snapshot_id)
        if problem:
            snapshot.state, snapshot.removed = S.ERROR, utcnow()
        else:
            current = s.scalar(_active(s, vm.id).where(VMSnapshot.current.is_(True), VMSnapshot.id != snapshot.id))
            if current is not None:
                current.current = False
            snapshot.parent_id = current.id if current is not None else None
            snapshot.state, snapshot.current = S.READY, True
            _event(s, ctx.caller, "VMSNAPSHOT.CREATE", f"Created VM snapshot {snapshot.display_name} of VM "
                   f"{vm.instance_name} on host {host.name}", snapshot)
            _usage(s, "VMSNAPSHOT.CREATE", snapshot, vm)
    if problem:
        raise ResourceUnavailable(f"Creating VM snapshot of VM {vm.uuid} failed: {problem}")


def check_stopped_ready(session: Session, caller: Caller, snapshot: VMSnapshot, action: str) -> VMInstance:
    if snapshot.removed is not None:
        raise InvalidParameter(f"Unable to find the VM snapshot with id {snapshot.uuid} (vmsnapshotid)")
    vm = session.get(VMInstance, snapshot.vm_id)
    vms.check_access(session, caller, vm)
    if snapshot.state != S.READY:
        raise InvalidParameter(f"VM snapshot {snapshot.display_name} is {snapshot.state}: only a Ready VM snapshot "
                               f"can be {action} (vmsnapshotid)")
    if vm.state != states.STOPPED:
        raise InvalidParameter(f"VM {vm.uuid} is {vm.state}: VM snapshots are {action} while the VM is Stopped "
                               "(vmsnapshotid)")
    if any(r.state in S.BUSY for r in session.scalars(_active(session, vm.id))):
        raise InvalidParameter(f"There is other active vm snapshot tasks on the instance {vm.uuid}, please try "
                               "again later")
    return vm


def _run(ctx: Context, snapshot_id: int, action: str, busy: str, verb: str) -> tuple[Host, str | None]:
    with step(ctx) as s:
        snapshot, vm = _locked(s, snapshot_id)
        check_stopped_ready(s, ctx.caller, snapshot, verb)
        disks, host = _disks(s, vm)
        snapshot.state = busy
        command = VmSnapshot(action=action, vm_name=vm.instance_name, disks=disks, snapshot_name=snapshot.name)
    return host, _ask(host, command)


def revert(ctx: Context, snapshot_id: int) -> None:
    """The revertToVMSnapshot job: every disk back to the snapshot; it becomes the current one."""
    host, problem = _run(ctx, snapshot_id, "revert", S.REVERTING, "reverted")
    with step(ctx) as s:
        snapshot, vm = _locked(s, snapshot_id)
        snapshot.state = S.READY
        if problem is None:
            for other in s.scalars(_active(s, vm.id).where(VMSnapshot.id != snapshot.id)):
                other.current = False
            snapshot.current = True
            _event(s, ctx.caller, "VMSNAPSHOT.REVERTTO", f"Reverted VM {vm.instance_name} to VM snapshot "
                   f"{snapshot.display_name}", snapshot)
    if problem:
        raise ResourceUnavailable(f"Reverting to VM snapshot {snapshot.display_name} failed: {problem}")


def delete(ctx: Context, snapshot_id: int) -> None:
    """The deleteVMSnapshot job: removed from every disk; its children hang from its parent."""
    host, problem = _run(ctx, snapshot_id, "delete", S.EXPUNGING, "deleted")
    with step(ctx) as s:
        snapshot, vm = _locked(s, snapshot_id)
        if problem:
            snapshot.state = S.READY
        else:
            _forget(s, snapshot)
            _event(s, ctx.caller, "VMSNAPSHOT.DELETE", f"Deleted VM snapshot {snapshot.display_name} of VM "
                   f"{vm.instance_name}", snapshot)
            _usage(s, "VMSNAPSHOT.DELETE", snapshot, vm)
    if problem:
        raise ResourceUnavailable(f"Deleting VM snapshot {snapshot.display_name} failed: {problem}")


def _forget(session: Session, snapshot: VMSnapshot) -> None:
    """A deleted snapshot's row: removed, its children hung from its parent (which becomes current if it was)."""
    for child in session.scalars(_active(session, snapshot.vm_id).where(VMSnapshot.parent_id == snapshot.id)):
        child.parent_id = snapshot.parent_id
    if snapshot.current and snapshot.parent_id is not None:
        parent = session.get(VMSnapshot, snapshot.parent_id)
        if parent is not None and parent.removed is None:
            parent.current = True
    snapshot.state, snapshot.current, snapshot.removed = S.EXPUNGING, False, utcnow()
    tags.drop(session, "VMSnapshot", snapshot.id)


def forget_vm(session: Session, vm: VMInstance) -> None:
    """``vm_lifecycle.EXPUNGE_HOOKS``: the VM's disks are gone, and its snapshots with them."""
    for snapshot in session.scalars(_active(session, vm.id)):
        snapshot.removed, snapshot.current, snapshot.state = utcnow(), False, S.EXPUNGING
        tags.drop(session, "VMSnapshot", snapshot.id)


@dataclass
class ListFilter:
    scope: Scope
    vm_id: int | None = None
    ids: list[int] | None = None
    name: str | None = None
    state: str | None = None
    keyword: str | None = None
    tags: list[dict] | None = None


def list_snapshots(session: Session, f: ListFilter, offset: int, limit: int | None) -> tuple[list[VMSnapshot], int]:
    query = select(VMSnapshot).where(VMSnapshot.removed.is_(None),
                                     f.scope.where(VMSnapshot.account_id, VMSnapshot.domain_id))
    if f.vm_id is not None:
        query = query.where(VMSnapshot.vm_id == f.vm_id)
    if f.ids:
        query = query.where(VMSnapshot.id.in_(f.ids))
    if f.name:
        query = query.where(VMSnapshot.display_name == f.name)
    if f.state:
        match = next((st for st in S.ALL if st.lower() == f.state.strip().lower()), None)
        if match is None:
            raise InvalidParameter(f"Invalid state {f.state}: use one of {', '.join(S.ALL)} (state)")
        query = query.where(VMSnapshot.state == match)
    if f.keyword:
        query = query.where(VMSnapshot.display_name.like(f"%{f.keyword}%"))
    query = tags.filtered(query, "VMSnapshot", VMSnapshot.id, f.tags or [])
    return page(session, query.order_by(VMSnapshot.created, VMSnapshot.id), offset, limit)


def recover_orphan(orphan) -> None:
    """A VM snapshot job whose worker died: finish what the disks may be halfway through, idempotently — a
    snapshot being taken is removed from every disk (Error), a revert is done again (then Ready), a deletion
    is done again (then removed) — so the VM is never left blocked by a task nobody runs."""
    if orphan.instance_type != "VMSnapshot" or orphan.instance_id is None:
        return
    from management.db import db

    with db.session() as s:
        snapshot = s.get(VMSnapshot, orphan.instance_id)
        if snapshot is None or snapshot.state not in S.BUSY:
            return
        vm = s.get(VMInstance, snapshot.vm_id)
        state, disks_and_host = snapshot.state, None
        try:
            disks_and_host = _disks(s, vm)
        except CloudError:
            pass
        action = {S.CREATING: "delete", S.REVERTING: "revert", S.EXPUNGING: "delete"}[state]
        name, vm_name = snapshot.name, vm.instance_name
    problem = "no host reaches the VM's disks"
    if disks_and_host is not None:
        disks, host = disks_and_host
        problem = _ask(host, VmSnapshot(action=action, vm_name=vm_name, disks=disks, snapshot_name=name))
    with db.session() as s:
        snapshot = s.get(VMSnapshot, orphan.instance_id)
        if snapshot.state != state:
            return
        if state == S.CREATING:
            snapshot.state, snapshot.removed = S.ERROR, utcnow()
        elif state == S.REVERTING or problem:
            snapshot.state = S.READY  # a failed redo leaves it listed: the user can revert or delete again
        else:
            _forget(s, snapshot)
        if problem:
            log.warning("orphaned VM snapshot %s (%s): %s", name, state, problem)


def register() -> None:
    from management.jobs import runner

    vm_lifecycle.add(vm_lifecycle.BUSY_CHECKS, busy_check)
    vm_lifecycle.add(vm_lifecycle.EXPUNGE_HOOKS, forget_vm)
    if recover_orphan not in runner.ORPHAN_HANDLERS:
        runner.ORPHAN_HANDLERS.append(recover_orphan)
