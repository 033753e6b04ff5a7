"""What the VM code plugs into other domains: host reports (VM power-state sync), host-down HA, refusing to
delete hosts and pools in use, account deletion, resource counters for recalculation."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select

from management.compute import planner, states
from management.compute.vm_models import VMInstance, Volume
from management.config import service as config
from management.context import Context, system_caller
from management.db import utcnow
from management.events import alerts
from management.events import service as events
from management.infra import agent_link, agent_tasks, health
from management.infra import hosts as infra_hosts
from management.limits import service as limits
from management.storage import pools

log = logging.getLogger(__name__)
STRAY_MIN_SECONDS = 5  # a VM row settled this long (and 3 ping intervals) before a stray copy on a host is stopped
MISSING_GRACE_SECONDS = 120  # a Running VM absent from its host's reports this long is taken as stopped
COUNTED = (states.DESTROYED, states.ERROR, states.EXPUNGING)


def _vm_ctx(session) -> Context:
    return Context(session=session, caller=system_caller(), command="vm-sync")


def sync_power_states(session, host, vm_states: dict[str, str]) -> None:
    """A host's report of its VMs' power states (called for every ping)."""
    from management.compute.vm_orchestrate import stopped_on

    now = utcnow()
    # the VMs placed on this host, those it reports, and those it last reported running (so that a VM that
    # went away is seen missing rather than left "PowerOn" forever)
    known = {vm.instance_name: vm for vm in session.scalars(select(VMInstance).where(
        VMInstance.removed.is_(None), (VMInstance.host_id == host.id) |
        VMInstance.instance_name.in_(list(vm_states) or [""]) |
        ((VMInstance.power_host_id == host.id) & (VMInstance.power_state == "PowerOn"))))}
    for name in vm_states:
        if name not in known:  # left alone (it may be someone else's), but an operator should look at it
            log.warning("host %s reports an unknown VM %s", host.name, name)
            alerts.raise_alert(session, alerts.SYNC, f"Unknown VM {name} found on host {host.name}",
                               content=f"Host {host.name} runs VM {name}, which this cloud has no record of; it is "
                                       "left running.", zone_id=host.zone_id, pod_id=host.pod_id,
                               cluster_id=host.cluster_id)
    _stop_strays(session, host, vm_states, known, now)
    for name, vm in known.items():
        reported = vm_states.get(name, "PowerReportMissing")
        if reported != vm.power_state:
            vm.power_state, vm.power_state_update, vm.power_host_id = reported, now, host.id
        if vm.state != states.RUNNING or vm.host_id != host.id:
            continue  # transitional states belong to the job moving the VM; others are off this host
        missing_too_long = reported == "PowerReportMissing" and vm.updated is not None and \
            now - vm.updated > timedelta(seconds=MISSING_GRACE_SECONDS) and \
            (vm.power_state_update is None or now - vm.power_state_update > timedelta(seconds=MISSING_GRACE_SECONDS))
        if reported == "PowerOff" or missing_too_long:
            try:
                stopped_on(session, _vm_ctx(session), vm, "FollowAgentPowerOffReport",
                           f"Out of band VM power off: VM {vm.instance_name} on host {host.name}")
            except Exception:
                log.warning("could not follow the power-off report of VM %s", name, exc_info=True)


def _stop_strays(session, host, vm_states: dict[str, str], known: dict, now) -> None:
    """A VM the host runs while its row says it is not on that host (a start whose answer was lost — the
    broker went away mid-call, the job failed and released the VM — or a stop that did not reach the host):
    once the row has been settled for a few ping intervals, the host is told to stop it (force), so nothing
    runs that nobody accounts for. Unknown VMs only raise an alert (they may belong to someone else)."""
    from agent.protocol import StopVm

    interval = max(1, config.get_int(session, "ping.interval"))
    settle = timedelta(seconds=max(STRAY_MIN_SECONDS, 3 * interval))
    for name, vm in known.items():
        if vm_states.get(name) != "PowerOn" or vm.host_id == host.id:
            continue
        if vm.state not in (states.STOPPED, states.ERROR, states.DESTROYED, states.EXPUNGING) and vm.removed is None:
            continue  # moving (Starting/Migrating...) or running elsewhere: the job or the other host owns it
        if vm.updated is not None and now - vm.updated < settle:
            continue
        if vm.power_state == "PowerOff" and vm.power_state_update is not None and now - vm.power_state_update < settle:
            continue  # asked already; a copy still running after that is asked again
        if agent_link.post(host, StopVm(name=name, force=True)):
            # the next report of the host says whether it went (PowerOn again: asked again after ``settle``)
            vm.power_state, vm.power_state_update, vm.power_host_id = "PowerOff", now, host.id
            log.warning("host %s runs VM %s which is %s here: stopping it there", host.name, name, vm.state)
            events.record(session, system_caller(), "VM.STOP", f"Stopping VM {name} on host {host.name}: it runs "
                          f"there but is {vm.state}", resource=vm, resource_type="VirtualMachine",
                          account_id=vm.account_id, domain_id=vm.domain_id)


def simulated_vm_states(session, host) -> dict[str, str]:
    """GetVmStates of a simulated host: the VMs our rows place on it are on (the rows are the truth)."""
    rows = session.execute(select(VMInstance.instance_name).where(
        VMInstance.host_id == host.id, VMInstance.removed.is_(None),
        VMInstance.state.in_((states.RUNNING, states.STOPPING, states.MIGRATING)))).scalars().all()
    return {name: "PowerOn" for name in rows}


def host_down(session, host) -> None:
    """A host is Down: its VMs are stopped; HA-enabled ones are restarted elsewhere by a new job."""
    from management.api.native.registry import registry
    from management.compute.vm_orchestrate import stopped_on
    from management.jobs import service as jobs

    vms = session.scalars(select(VMInstance).where(VMInstance.host_id == host.id, VMInstance.removed.is_(None),
                                                   VMInstance.state.in_(states.ON_HOST))).all()
    for vm in vms:
        try:
            stopped_on(session, _vm_ctx(session), vm, "FollowAgentPowerOffReport",
                       f"VM {vm.instance_name} stopped: its host {host.name} is down")
        except Exception:
            log.warning("could not stop VM %s of down host %s", vm.instance_name, host.name, exc_info=True)
            continue
        if vm.ha_enabled:
            events.record(session, system_caller(), "VM.START", f"HA: restarting VM {vm.instance_name} after host "
                          f"{host.name} went down", state="Scheduled", resource=vm, resource_type="VirtualMachine",
                          account_id=vm.account_id, domain_id=vm.domain_id)
            api = registry.get("startVirtualMachine").api
            jobs.submit(session, system_caller(), api, {"id": vm.uuid}, instance=vm, event_type="VM.START")


def host_delete_check(session, host, forced: bool) -> str | None:
    count = session.scalar(select(func.count(VMInstance.id)).where(
        VMInstance.removed.is_(None), (VMInstance.host_id == host.id) |
        ((VMInstance.last_host_id == host.id) & VMInstance.state.in_(states.ON_HOST))))
    return f"there are {count} VMs on it" if count else None


def pool_usage(session, pool) -> int:
    return session.scalar(select(func.count(Volume.id)).where(Volume.pool_id == pool.id, Volume.removed.is_(None))) or 0


def account_cleanup(session, caller, account) -> None:
    """deleteAccount: destroy and expunge every VM of the account."""
    from management.compute import vm_expunge

    ctx = Context(session=session, caller=caller, command="deleteAccount")
    for vm_id in session.scalars(select(VMInstance.id).where(VMInstance.account_id == account.id,
                                                             VMInstance.removed.is_(None))).all():
        vm = session.get(VMInstance, vm_id)
        try:
            if vm.state in (states.DESTROYED, states.EXPUNGING):
                vm_expunge.expunge(ctx, vm_id)
            else:
                vm_expunge.destroy(ctx, vm_id, expunge_now=True)
        except Exception:
            log.warning("could not expunge VM %s of account %s", vm.instance_name, account.account_name,
                        exc_info=True)


def _live(account_id: int):
    return (VMInstance.account_id == account_id, VMInstance.removed.is_(None), VMInstance.state.not_in(COUNTED))


def _count_vms(session, account_id: int) -> int:
    return session.scalar(select(func.count(VMInstance.id)).where(*_live(account_id))) or 0


def _count_cpu(session, account_id: int) -> int:
    return session.scalar(select(func.coalesce(func.sum(VMInstance.cpu), 0)).where(*_live(account_id))) or 0


def _count_memory(session, account_id: int) -> int:
    return session.scalar(select(func.coalesce(func.sum(VMInstance.memory), 0)).where(*_live(account_id))) or 0


def _volumes(account_id: int):
    return (Volume.account_id == account_id, Volume.removed.is_(None), Volume.state.not_in(("Destroy", "Expunging")))


def _count_volumes(session, account_id: int) -> int:
    return session.scalar(select(func.count(Volume.id)).where(*_volumes(account_id))) or 0


def _count_storage(session, account_id: int) -> int:
    return session.scalar(select(func.coalesce(func.sum(Volume.size), 0)).where(*_volumes(account_id))) or 0


def register() -> None:
    if host_delete_check not in infra_hosts.HOST_DELETE_CHECKS:
        infra_hosts.HOST_DELETE_CHECKS.append(host_delete_check)
    if pool_usage not in pools.POOL_USAGE_COUNTERS:
        pools.POOL_USAGE_COUNTERS.append(pool_usage)
    from management.iam import service as iam

    if account_cleanup not in iam.ACCOUNT_CLEANUP_HOOKS:
        iam.ACCOUNT_CLEANUP_HOOKS.append(account_cleanup)
    for name, fn in (("user_vm", _count_vms), ("cpu", _count_cpu), ("memory", _count_memory),
                     ("volume", _count_volumes), ("primary_storage", _count_storage)):
        limits.register_counter(name, fn)
    if sync_power_states not in agent_tasks.PING_HANDLERS:
        agent_tasks.PING_HANDLERS.append(sync_power_states)
    if simulated_vm_states not in agent_link.SIMULATED_VM_STATES:
        agent_link.SIMULATED_VM_STATES.append(simulated_vm_states)
    if host_down not in health.HOST_DOWN_HANDLERS:
        health.HOST_DOWN_HANDLERS.append(host_down)
    from management.compute.vm_orchestrate import recover_orphan
    from management.jobs import runner

    if recover_orphan not in runner.ORPHAN_HANDLERS:
        runner.ORPHAN_HANDLERS.append(recover_orphan)
    from management.compute import vm_scale

    vm_scale.register()


register()

__all__ = ["planner", "register"]
