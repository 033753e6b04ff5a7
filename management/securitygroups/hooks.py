"""Where security groups plug into accounts (the ``default`` group), VMs (membership at deploy; start, stop,
migration and expunge re-send or clean the host's rules) and agents (a host that comes back gets every
rule set of its VMs again)."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from management.compute import vm_lifecycle, vms
from management.compute.vm_models import VMInstance
from management.iam import service as iam
from management.infra import agent_tasks
from management.securitygroups import service, sync
from management.securitygroups.models import SecurityGroup, SecurityGroupRule, SecurityGroupVmMap, SecurityGroupWork


def on_account_created(session, caller, account) -> None:
    service.ensure_default(session, account)


def on_account_removed(session, caller, account) -> None:
    groups = list(session.scalars(select(SecurityGroup.id).where(SecurityGroup.account_id == account.id)))
    if not groups or session.scalar(select(SecurityGroupVmMap.id).where(
            SecurityGroupVmMap.security_group_id.in_(groups)).limit(1)):
        return  # VMs still use them: they go when the VMs are expunged
    referring = sync.referencing_members(session, groups)
    session.execute(delete(SecurityGroupRule).where(SecurityGroupRule.allowed_group_id.in_(groups)))
    session.execute(delete(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(groups)))
    session.execute(delete(SecurityGroup).where(SecurityGroup.id.in_(groups)))
    sync.mark(session, referring)


def on_deploy(session, caller, vm, req) -> None:
    from management.iam.models import Account

    owner = session.get(Account, vm.account_id)
    groups = service.groups_for_deploy(session, owner, req.zone, list(req.security_groups or []))
    if groups:
        service.join(session, vm, groups)


def on_update_groups(session, caller, vm, requested: list[str]) -> None:
    from management.errors import InvalidParameter
    from management.iam.models import Account
    from management.infra.models import Zone

    zone = session.get(Zone, vm.zone_id)
    if not zone.security_groups_enabled:
        raise InvalidParameter("Invalid parameter securitygroupids/securitygroupnames: security groups are not "
                               f"enabled in zone {zone.uuid}")
    if vm.state != "Stopped":
        raise InvalidParameter(f"Virtual machine {vm.uuid} must be stopped prior to updating its security groups")
    groups = service.groups_for_deploy(session, session.get(Account, vm.account_id), zone, list(requested))
    service.set_groups(session, vm, groups)


def _has_work(session, vm_id: int) -> bool:
    return session.get(SecurityGroupWork, vm_id) is not None


def on_vm_changed(session, vm, *args) -> None:
    """Started, stopped or migrated: its rules go to (or leave) the host."""
    if _has_work(session, vm.id):
        sync.mark(session, [vm.id])


def on_vm_started(session, vm, host) -> None:
    """Its rules go to the host; and, as CloudStack does, the VMs whose rules name its groups are refreshed
    (its address is in them: a VM that got a new address is never left out)."""
    if _has_work(session, vm.id):
        groups = list(session.scalars(select(SecurityGroupVmMap.security_group_id)
                                      .where(SecurityGroupVmMap.vm_id == vm.id)))
        sync.mark(session, [vm.id] + sync.referencing_members(session, groups))


def vif_name(vm_id: int, device_id: int = 0) -> str:
    """A VM NIC's device on the host bridge: predictable, at most 15 characters, not libvirt's reserved vnet/vif."""
    return f"cs{vm_id}n{device_id}"


def on_spec(session, vm, spec, host) -> None:
    """KVM guests of a zone whose Guest traffic names a host bridge (``kvmnetworklabel``, as in CloudStack) are
    plugged into it under a predictable vif name; without a label nothing changes (user-mode networking)."""
    from management.network.physical import traffic_label

    if host is None or host.hypervisor_type != "KVM":
        return
    label = traffic_label(session, vm.zone_id, "Guest")
    if not label:
        return
    for nic in spec.nics:
        if nic.bridge is None:
            nic.bridge, nic.vif = label, nic.vif or vif_name(vm.id, nic.device_id)


def on_expunge(session, vm) -> None:
    service.leave_all(session, vm)


def on_agent_startup(session, host) -> None:
    """A (re)started agent has lost its rules' sequence: send every VM of the host its rules again."""
    ids = list(session.scalars(select(SecurityGroupWork.vm_id).join(VMInstance, VMInstance.id == SecurityGroupWork.vm_id)
                               .where(VMInstance.host_id == host.id, VMInstance.removed.is_(None))))
    if ids:
        session.execute(update(SecurityGroupWork).where(SecurityGroupWork.vm_id.in_(ids)).values(host_id=host.id)
                        .execution_options(synchronize_session=False))
        sync.mark(session, ids)


def register() -> None:
    if on_account_created not in iam.ACCOUNT_CREATED_HOOKS:
        iam.ACCOUNT_CREATED_HOOKS.append(on_account_created)
    if on_account_removed not in iam.ACCOUNT_CLEANUP_HOOKS:
        iam.ACCOUNT_CLEANUP_HOOKS.append(on_account_removed)
    vm_lifecycle.add(vm_lifecycle.DEPLOY_HOOKS, on_deploy)
    vm_lifecycle.add(vm_lifecycle.STARTED_HOOKS, on_vm_started)
    for hooks in (vm_lifecycle.STOPPED_HOOKS, vm_lifecycle.MIGRATED_HOOKS):
        vm_lifecycle.add(hooks, on_vm_changed)
    vm_lifecycle.add(vm_lifecycle.EXPUNGE_HOOKS, on_expunge)
    vm_lifecycle.add(vm_lifecycle.SPEC_HOOKS, on_spec)
    vm_lifecycle.add(vms.GROUP_UPDATE_HOOKS, on_update_groups)
    if on_agent_startup not in agent_tasks.STARTUP_HANDLERS:
        agent_tasks.STARTUP_HANDLERS.append(on_agent_startup)


register()
