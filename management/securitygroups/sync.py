"""Getting every VM's effective rules onto its host, within seconds, after any change.

A change marks the VMs it affects (``mark``: ``security_group_work.seq`` + 1, dirty) in the transaction that
makes it, and after the commit a Celery task ``management.securitygroups.sync`` is queued (a periodic task
every few seconds catches anything missed: a lost message, a host that was down). The task takes every dirty
VM, computes its rule set, and sends each host ONE ``SecurityGroupRulesBatch`` with the full rule set of each
of its dirty VMs (and the clean-ups of VMs that stopped, moved or went), hosts in parallel. A burst of changes
is coalesced: whatever is dirty when the task runs goes in one round. An answer records the ``seq`` the host
applied; a VM changed again meanwhile stays dirty and goes in the next round.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from agent.protocol_network import SecurityGroupRules, SecurityGroupRulesBatch
from management.compute import states
from management.compute.vm_models import Nic, VMInstance
from management.db import db, utcnow
from management.infra import agent_link
from management.infra.models import Host
from management.jobs.celery import app
from management.jobs.periodic import periodic
from management.jobs.service import after_commit
from management.securitygroups.models import SecurityGroupRule, SecurityGroupVmMap, SecurityGroupWork

log = logging.getLogger(__name__)
TASK = "management.securitygroups.sync"
BATCH = 5000  # dirty VMs taken per round
CALL_TIMEOUT = 60.0


def members(session: Session, group_ids: list[int]) -> list[int]:
    if not group_ids:
        return []
    return list(session.scalars(select(SecurityGroupVmMap.vm_id).distinct()
                                .where(SecurityGroupVmMap.security_group_id.in_(group_ids))))


def referencing_members(session: Session, group_ids: list[int]) -> list[int]:
    """VMs whose rules name one of ``group_ids`` (their rule sets hold those groups' addresses)."""
    if not group_ids:
        return []
    referring = select(SecurityGroupRule.security_group_id).where(SecurityGroupRule.allowed_group_id.in_(group_ids))
    return list(session.scalars(select(SecurityGroupVmMap.vm_id).distinct()
                                .where(SecurityGroupVmMap.security_group_id.in_(referring))))


def mark(session: Session, vm_ids) -> None:
    """The effective rules of ``vm_ids`` changed: bump their sequence; the sync task runs after the commit."""
    ids = set(vm_ids)
    if not ids:
        return
    session.execute(update(SecurityGroupWork).where(SecurityGroupWork.vm_id.in_(ids))
                    .values(seq=SecurityGroupWork.seq + 1, dirty=True).execution_options(synchronize_session=False))
    present = set(session.scalars(select(SecurityGroupWork.vm_id).where(SecurityGroupWork.vm_id.in_(ids))))
    for vm_id in sorted(ids - present):
        session.add(SecurityGroupWork(vm_id=vm_id, seq=1, applied_seq=0, dirty=True, rules=0))
    session.flush()
    if not session.info.get("sg_kick"):
        session.info["sg_kick"] = True
        after_commit(session, kick)


def kick() -> None:
    try:
        app.send_task(TASK, queue=app.conf.task_default_queue)
    except Exception:  # the periodic round picks the work up
        log.warning("could not queue the security-group sync task", exc_info=True)


# --- the worker ----------------------------------------------------------------------------------------------

_running = threading.Lock()
_again = threading.Event()


@app.task(name=TASK, ignore_result=True)
def sync_task() -> None:
    run()


@periodic("securitygroups.sync", interval=3.0)
def sync_periodic() -> None:
    run()


def run() -> int:
    """Rounds until nothing new arrived while one ran; another caller meanwhile only asks for one more round."""
    _again.set()
    if not _running.acquire(blocking=False):
        return 0
    done = 0
    try:
        while _again.is_set():
            _again.clear()
            done += sync_round()
    finally:
        _running.release()
    return done


def _plan(session: Session) -> tuple[dict[int, SecurityGroupRulesBatch], list[tuple[int, int]]]:
    rows = session.execute(select(SecurityGroupWork.vm_id, SecurityGroupWork.seq, SecurityGroupWork.host_id)
                           .where(SecurityGroupWork.dirty.is_(True)).limit(BATCH)).all()
    if not rows:
        return {}, []
    ids = [r.vm_id for r in rows]
    vms = {vm.id: vm for vm in session.scalars(select(VMInstance).where(VMInstance.id.in_(ids)))}
    nics = {}
    for nic in session.scalars(select(Nic).where(Nic.vm_id.in_(ids), Nic.removed.is_(None), Nic.is_default.is_(True))):
        nics.setdefault(nic.vm_id, nic)
    batches: dict[int, SecurityGroupRulesBatch] = defaultdict(SecurityGroupRulesBatch)
    settled: list[tuple[int, int]] = []  # (vm id, seq) with nothing left to send
    active = []
    for row in rows:
        vm, nic = vms.get(row.vm_id), nics.get(row.vm_id)
        running = vm is not None and vm.removed is None and vm.state == states.RUNNING and vm.host_id is not None \
            and nic is not None and nic.ip_address is not None
        if row.host_id is not None and (not running or row.host_id != vm.host_id):
            batches[row.host_id].cleanup.append(vm.instance_name)
        if running:
            active.append((row, vm, nic))
        elif row.host_id is None:
            settled.append((row.vm_id, row.seq))
    from management.securitygroups.rules import effective_rules

    effective = effective_rules(session, [vm.id for _, vm, _ in active]) if active else {}
    for row, vm, nic in active:
        ingress, egress = effective[vm.id]
        batches[vm.host_id].rules.append(SecurityGroupRules(
            vm_name=vm.instance_name, vm_id=vm.id, guest_ip=nic.ip_address, guest_mac=nic.mac_address,
            vif=None, seq=row.seq, ingress=ingress, egress=egress))
    return dict(batches), settled


def _send(host_id: int, batch: SecurityGroupRulesBatch) -> tuple[int, list[dict]]:
    with db.read_session() as session:
        host = session.get(Host, host_id)
        if host is None or host.removed is not None:
            return host_id, [{"vm_name": name, "ok": True, "cleanup": True} for name in batch.cleanup]
        answer = agent_link.call(host, batch, timeout=CALL_TIMEOUT)
    if not answer.ok:
        log.warning("security-group rules for host %s not applied: %s", host_id, answer.details)
        return host_id, []
    return host_id, answer.data.get("results", [])


def sync_round() -> int:
    """One round: plan (a short transaction), send to every host in parallel (no transaction held), record."""
    with db.read_session() as session:  # the periodic round usually finds nothing: no write lock for that
        if session.scalar(select(SecurityGroupWork.vm_id).where(SecurityGroupWork.dirty.is_(True)).limit(1)) is None:
            return 0
    with db.session() as session:
        batches, settled = _plan(session)
        for vm_id, seq in settled:  # stopped VMs with nothing on any host: done until they start again
            session.execute(update(SecurityGroupWork).where(SecurityGroupWork.vm_id == vm_id,
                                                            SecurityGroupWork.seq == seq).values(dirty=False))
    if not batches:
        return 0
    with ThreadPoolExecutor(max_workers=min(16, len(batches))) as pool:
        answers = list(pool.map(lambda item: _send(*item), batches.items()))
    by_name = {cmd.vm_name: cmd for batch in batches.values() for cmd in batch.rules}
    applied = 0
    now = utcnow()
    with db.session() as session:
        for host_id, results in answers:
            for result in results:
                if not result.get("ok"):
                    log.warning("security-group rules of %s on host %s: %s", result.get("vm_name"), host_id,
                                result.get("details"))
                    continue
                if result.get("cleanup"):
                    _cleaned(session, result["vm_name"], host_id)
                    continue
                cmd = by_name.get(result["vm_name"])
                if cmd is None:
                    continue
                seq = int(result["seq"])
                session.execute(update(SecurityGroupWork).where(SecurityGroupWork.vm_id == cmd.vm_id).values(
                    applied_seq=seq, host_id=host_id, digest=result.get("digest"), rules=result.get("rules", 0),
                    updated=now, dirty=case((SecurityGroupWork.seq > seq, True), else_=False)))
                applied += 1
    return applied


def _cleaned(session: Session, vm_name: str, host_id: int) -> None:
    vm = session.scalar(select(VMInstance).where(VMInstance.instance_name == vm_name))
    if vm is None:
        return
    work = session.get(SecurityGroupWork, vm.id)
    if work is None or work.host_id != host_id:
        return
    work.host_id, work.digest, work.rules, work.updated = None, None, 0, utcnow()
    if vm.removed is not None and not session.scalar(select(SecurityGroupVmMap.id)
                                                     .where(SecurityGroupVmMap.vm_id == vm.id).limit(1)):
        session.execute(delete(SecurityGroupWork).where(SecurityGroupWork.vm_id == vm.id))
    elif vm.state != states.RUNNING:
        work.dirty = False  # nothing of it is on any host now; its start marks it again
