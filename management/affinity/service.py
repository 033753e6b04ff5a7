"""Affinity groups as CloudStack has them for KVM: ``host anti-affinity`` (no two running VMs of the group on one
host) and ``host affinity`` (all of them on the host the first one runs on).

A group belongs to an account (name unique there); a VM joins the groups of its owner at deploy
(``affinitygroupids``/``affinitygroupnames``) or, Stopped, with updateVMAffinityGroup. The deployment planner
asks ``placement_rule`` for every placement (deploy, start, HA restart, migration): the hosts to avoid and the
host to use. The groups' rows are locked for the placement (``SELECT ... FOR UPDATE`` on MySQL; SQLite writers
are serialised anyway), so two VMs of one anti-affinity group placed at the same time cannot both pick the
same host: the second sees the first's host once the first placement commits.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from management.affinity.models import AFFINITY, ANTI_AFFINITY, TYPES, AffinityGroup, AffinityGroupVmMap
from management.compute import states
from management.compute.vm_models import VMInstance
from management.context import Caller
from management.errors import InvalidParameter
from management.events import service as events
from management.iam.access import Scope, check_account_access
from management.iam.models import Account, Domain

ON_HOST = (states.STARTING, states.RUNNING, states.STOPPING, states.MIGRATING)


def check_type(value: str | None) -> str:
    kind = (value or ANTI_AFFINITY).strip().lower()
    if kind not in TYPES:
        raise InvalidParameter(f"Unable to create affinity group, invalid affinity group type {value}: use one of "
                               + ", ".join(TYPES) + " (type)")
    return kind


def create(session: Session, caller: Caller, owner: Account, *, name: str, type_: str | None,
           description: str | None) -> AffinityGroup:
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise InvalidParameter("An affinity group needs a name of at most 255 characters (name)")
    kind = check_type(type_)
    if session.scalar(select(AffinityGroup.id).where(AffinityGroup.account_id == owner.id,
                                                     func.lower(AffinityGroup.name) == name.lower())):
        raise InvalidParameter(f"Unable to create affinity group, a group with name {name} already exists (name)")
    group = AffinityGroup(name=name, type=kind, description=description or name, account_id=owner.id,
                          domain_id=owner.domain_id)
    session.add(group)
    session.flush()
    events.record(session, caller, "AG.CREATE", f"Created affinity group {name} ({kind})", resource=group,
                  resource_type="AffinityGroup", account_id=owner.id, domain_id=owner.domain_id)
    return group


def find(session: Session, caller: Caller, *, group: AffinityGroup | None, name: str | None,
         owner: Account | None) -> AffinityGroup:
    """deleteAffinityGroup's group: by ``id``, or by ``name`` (of ``owner``, the caller's account by default)."""
    if group is None:
        if not name:
            raise InvalidParameter("Either the affinity group's id or its name must be given (id, name)")
        owner_id = owner.id if owner is not None else caller.account_id
        group = session.scalar(select(AffinityGroup).where(AffinityGroup.account_id == owner_id,
                                                           AffinityGroup.name == name))
        if group is None:
            raise InvalidParameter(f"Unable to find affinity group by name {name} (name)")
    check_account_access(session, caller, session.get(Account, group.account_id))
    return group


def check_delete(session: Session, group: AffinityGroup) -> None:
    members = session.scalar(select(func.count(AffinityGroupVmMap.id)).join(
        VMInstance, VMInstance.id == AffinityGroupVmMap.vm_id).where(
        AffinityGroupVmMap.affinity_group_id == group.id, VMInstance.removed.is_(None)))
    if members:
        raise InvalidParameter(f"Affinity group {group.name} still has {members} VM(s): remove them from it first "
                               "(updateVMAffinityGroup) or destroy them")


def delete_group(session: Session, caller: Caller, group: AffinityGroup) -> None:
    check_delete(session, group)
    session.execute(delete(AffinityGroupVmMap).where(AffinityGroupVmMap.affinity_group_id == group.id))
    events.record(session, caller, "AG.DELETE", f"Deleted affinity group {group.name}", resource=group,
                  resource_type="AffinityGroup", account_id=group.account_id, domain_id=group.domain_id)
    session.delete(group)
    session.flush()


def groups_for(session: Session, owner: Account, ids: list[str], names: list[str]) -> list[AffinityGroup]:
    """The groups named by ``affinitygroupids`` or ``affinitygroupnames``, all the owner's (431 otherwise)."""
    if ids and names:
        raise InvalidParameter("affinitygroupids and affinitygroupnames are mutually exclusive")
    found = []
    for value in dict.fromkeys(ids or []):
        group = session.scalar(select(AffinityGroup).where(AffinityGroup.uuid == value.strip().lower()))
        if group is None or group.account_id != owner.id:
            raise InvalidParameter(f"Unable to find affinity group {value} of account {owner.account_name} "
                                   "(affinitygroupids)")
        found.append(group)
    for value in dict.fromkeys(names or []):
        group = session.scalar(select(AffinityGroup).where(AffinityGroup.account_id == owner.id,
                                                           AffinityGroup.name == value.strip()))
        if group is None:
            raise InvalidParameter(f"Unable to find affinity group {value} of account {owner.account_name} "
                                   "(affinitygroupnames)")
        found.append(group)
    return found


def set_groups(session: Session, vm: VMInstance, groups: list[AffinityGroup]) -> None:
    session.execute(delete(AffinityGroupVmMap).where(AffinityGroupVmMap.vm_id == vm.id))
    for group in groups:
        session.add(AffinityGroupVmMap(affinity_group_id=group.id, vm_id=vm.id))
    session.flush()


def check_update(session: Session, caller: Caller, vm: VMInstance, ids: list[str] | None,
                 names: list[str] | None) -> list[AffinityGroup]:
    """updateVMAffinityGroup's checks (nothing written); returns the VM's new groups."""
    if vm.state != states.STOPPED:
        raise InvalidParameter(f"VM {vm.uuid} must be Stopped to change its affinity groups (it is {vm.state})")
    if ids is None and names is None:
        raise InvalidParameter("Either affinitygroupids or affinitygroupnames must be given")
    owner = session.get(Account, vm.account_id)
    check_account_access(session, caller, owner)
    return groups_for(session, owner, list(ids or []), list(names or []))


def update_vm(session: Session, caller: Caller, vm: VMInstance, ids: list[str] | None,
              names: list[str] | None) -> None:
    """updateVMAffinityGroup: the VM's groups become exactly those given (an empty list: it leaves them all)."""
    set_groups(session, vm, check_update(session, caller, vm, ids, names))
    events.record(session, caller, "VM.AG.UPDATE", f"Updated the affinity groups of VM {vm.instance_name}",
                  resource=vm, resource_type="VirtualMachine", account_id=vm.account_id, domain_id=vm.domain_id)


def placement_rule(session: Session, vm) -> tuple[set[int], int | None]:
    """For the planner: (hosts ``vm`` must avoid, host it must go to or None), from its groups' other VMs."""
    group_ids = list(session.scalars(select(AffinityGroupVmMap.affinity_group_id)
                                     .where(AffinityGroupVmMap.vm_id == vm.id)))
    if not group_ids:
        return set(), None
    groups = session.scalars(select(AffinityGroup).where(AffinityGroup.id.in_(group_ids))
                             .order_by(AffinityGroup.id).with_for_update()).all()
    avoid: set[int] = set()
    must: int | None = None
    for group in groups:
        hosts = set(session.scalars(select(VMInstance.host_id).join(
            AffinityGroupVmMap, AffinityGroupVmMap.vm_id == VMInstance.id).where(
            AffinityGroupVmMap.affinity_group_id == group.id, VMInstance.id != vm.id,
            VMInstance.removed.is_(None), VMInstance.host_id.is_not(None), VMInstance.state.in_(ON_HOST))))
        if group.type == ANTI_AFFINITY:
            avoid |= hosts
        elif group.type == AFFINITY and hosts:
            must = must or min(hosts)
    return avoid, must


def list_query(scope: Scope, *, group: AffinityGroup | None, name: str | None, type_: str | None,
               vm: VMInstance | None, keyword: str | None):
    query = select(AffinityGroup).where(scope.where(AffinityGroup.account_id, AffinityGroup.domain_id))
    if group is not None:
        query = query.where(AffinityGroup.id == group.id)
    if name:
        query = query.where(AffinityGroup.name == name)
    if type_:
        query = query.where(AffinityGroup.type == type_.strip().lower())
    if vm is not None:
        query = query.where(AffinityGroup.id.in_(select(AffinityGroupVmMap.affinity_group_id)
                                                 .where(AffinityGroupVmMap.vm_id == vm.id)))
    if keyword:
        query = query.where(AffinityGroup.name.like(f"%{keyword}%"))
    return query.order_by(AffinityGroup.id)


def views(session: Session, groups: list[AffinityGroup], *, with_vms: bool = True) -> list[dict]:
    """Groups as CloudStack renders them (listAffinityGroups, and inside a VM without ``virtualmachineIds``)."""
    from management.iam.responses import domain_display_path

    if not groups:
        return []
    ids = [g.id for g in groups]
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_({g.account_id
                                                                                       for g in groups})))}
    domains = {d.id: d for d in session.scalars(select(Domain).where(Domain.id.in_({g.domain_id for g in groups})))}
    members: dict[int, list[str]] = {}
    if with_vms:
        for group_id, uuid in session.execute(select(AffinityGroupVmMap.affinity_group_id, VMInstance.uuid).join(
                VMInstance, VMInstance.id == AffinityGroupVmMap.vm_id).where(
                AffinityGroupVmMap.affinity_group_id.in_(ids), VMInstance.removed.is_(None))
                .order_by(VMInstance.id)):
            members.setdefault(group_id, []).append(uuid)
    result = []
    for g in groups:
        account, domain = accounts.get(g.account_id), domains.get(g.domain_id)
        view = {"id": g.uuid, "name": g.name, "description": g.description, "type": g.type,
                "account": account.account_name if account else None, "domainid": domain.uuid if domain else None,
                "domain": domain.name if domain else None,
                "domainpath": domain_display_path(domain) if domain else None}
        if with_vms:
            view["virtualmachineIds"] = members.get(g.id, [])
        result.append({k: v for k, v in view.items() if v is not None})
    return result


def of_vms(session: Session, vm_ids: list[int]) -> dict[int, list[dict]]:
    """``{vm id: [group view, ...]}`` for the ``affinitygroup`` of VM responses."""
    if not vm_ids:
        return {}
    pairs = session.execute(select(AffinityGroupVmMap.vm_id, AffinityGroup).join(
        AffinityGroup, AffinityGroup.id == AffinityGroupVmMap.affinity_group_id).where(
        AffinityGroupVmMap.vm_id.in_(vm_ids)).order_by(AffinityGroup.id)).all()
    groups = {g.id: g for _vm, g in pairs}
    rendered = dict(zip(groups, views(session, list(groups.values()), with_vms=False), strict=True))
    result: dict[int, list[dict]] = {}
    for vm_id, group in pairs:
        result.setdefault(vm_id, []).append(rendered[group.id])
    return result


# --- hooks ---------------------------------------------------------------------------------------------------

def on_deploy(session, caller, vm, req) -> None:
    ids, names = list(req.affinity_group_ids or []), list(req.affinity_group_names or [])
    if ids or names:
        set_groups(session, vm, groups_for(session, session.get(Account, vm.account_id), ids, names))


def on_expunge(session, vm) -> None:
    session.execute(delete(AffinityGroupVmMap).where(AffinityGroupVmMap.vm_id == vm.id))


def on_account_removed(session, caller, account) -> None:
    groups = list(session.scalars(select(AffinityGroup.id).where(AffinityGroup.account_id == account.id)))
    if groups:
        session.execute(delete(AffinityGroupVmMap).where(AffinityGroupVmMap.affinity_group_id.in_(groups)))
        session.execute(delete(AffinityGroup).where(AffinityGroup.id.in_(groups)))


def register() -> None:
    from management.compute import planner, vm_lifecycle
    from management.iam import service as iam

    vm_lifecycle.add(vm_lifecycle.DEPLOY_HOOKS, on_deploy)
    vm_lifecycle.add(vm_lifecycle.EXPUNGE_HOOKS, on_expunge)
    if placement_rule not in planner.PLACEMENT_RULES:
        planner.PLACEMENT_RULES.append(placement_rule)
    if on_account_removed not in iam.ACCOUNT_CLEANUP_HOOKS:
        iam.ACCOUNT_CLEANUP_HOOKS.append(on_account_removed)
