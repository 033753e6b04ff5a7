"""Security groups: create/delete/list, authorizing and revoking rules, VM membership, the default group.

Every change marks the VMs whose effective rules it changes (``sync.mark``); the sync worker sends them.
"""

from __future__ import annotations

import json

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from management.compute.vm_models import VMInstance
from management.context import Caller
from management.errors import InvalidParameter
from management.events import service as events
from management.iam.access import Scope, check_account_access
from management.iam.models import Account, Domain
from management.infra.models import Zone
from management.pagination import page
from management.securitygroups import rules as rule_checks
from management.securitygroups import sync
from management.securitygroups.models import EGRESS, INGRESS, SecurityGroup, SecurityGroupRule, SecurityGroupVmMap
from management.storage.templates import template_owner
from management.tags import service as tag_service

DEFAULT = "default"
EVENT = {INGRESS: ("SG.AUTH.INGRESS", "SG.REVOKE.INGRESS"), EGRESS: ("SG.AUTH.EGRESS", "SG.REVOKE.EGRESS")}


def ensure_default(session: Session, account: Account) -> SecurityGroup:
    group = session.scalar(select(SecurityGroup).where(SecurityGroup.account_id == account.id,
                                                       SecurityGroup.name == DEFAULT))
    if group is None:
        group = SecurityGroup(name=DEFAULT, description="Default Security Group", account_id=account.id,
                              domain_id=account.domain_id)
        session.add(group)
        session.flush()
    return group


def create(session: Session, caller: Caller, *, name: str, description: str | None, account_name: str | None,
           domain: Domain | None) -> SecurityGroup:
    owner = template_owner(session, caller, account_name, domain)
    name = name.strip()
    if not name or len(name) > 255:
        raise InvalidParameter("Invalid value for parameter name: a security group name has 1 to 255 characters")
    if name.lower() == DEFAULT:
        raise InvalidParameter(f"Invalid value for parameter name: the security group name {DEFAULT} is reserved")
    if session.scalar(select(SecurityGroup.id).where(SecurityGroup.account_id == owner.id,
                                                     SecurityGroup.name == name)):
        raise InvalidParameter(f"The security group name {name} already exists for account {owner.account_name}")
    group = SecurityGroup(name=name, description=description, account_id=owner.id, domain_id=owner.domain_id)
    session.add(group)
    session.flush()
    events.record(session, caller, "SG.CREATE", f"Successfully created security group {name}", resource=group,
                  resource_type="SecurityGroup", account_id=owner.id, domain_id=owner.domain_id)
    return group


def check_access(session: Session, caller: Caller, group: SecurityGroup) -> SecurityGroup:
    check_account_access(session, caller, session.get(Account, group.account_id))
    return group


def find(session: Session, caller: Caller, *, group: SecurityGroup | None, name: str | None,
         account_name: str | None, domain: Domain | None, id_param: str = "id",
         name_param: str = "name") -> SecurityGroup:
    if group is not None and name is not None:
        raise InvalidParameter(f"Invalid parameters: {id_param} and {name_param} are mutually exclusive")
    if group is not None:
        return check_access(session, caller, group)
    if name is None:
        raise InvalidParameter(f"Either {id_param} or {name_param} is required")
    owner = template_owner(session, caller, account_name, domain)
    found = session.scalar(select(SecurityGroup).where(SecurityGroup.account_id == owner.id,
                                                       SecurityGroup.name == name))
    if found is None:
        raise InvalidParameter(f"Invalid value for parameter {name_param}: unable to find security group {name} "
                               f"of account {owner.account_name}")
    return found


def delete_group(session: Session, caller: Caller, group: SecurityGroup) -> None:
    check_access(session, caller, group)
    if group.name == DEFAULT:
        raise InvalidParameter("The security group default is reserved and cannot be deleted")
    if session.scalar(select(func.count()).select_from(SecurityGroupVmMap)
                      .where(SecurityGroupVmMap.security_group_id == group.id)):
        raise InvalidParameter(f"Cannot delete security group {group.name}: it is in use by virtual machines")
    if session.scalar(select(func.count()).select_from(SecurityGroupRule).where(
            SecurityGroupRule.allowed_group_id == group.id, SecurityGroupRule.security_group_id != group.id)):
        raise InvalidParameter(f"Cannot delete security group {group.name}: rules of other groups refer to it")
    session.execute(delete(SecurityGroupRule).where(SecurityGroupRule.security_group_id == group.id))
    events.record(session, caller, "SG.DELETE", f"Successfully deleted security group {group.name}", resource=group,
                  resource_type="SecurityGroup", account_id=group.account_id, domain_id=group.domain_id)
    session.delete(group)


def parse_rules(session: Session, group: SecurityGroup, *, protocol: str | None, start_port: int | None,
                end_port: int | None, icmp_type: int | None, icmp_code: int | None, cidrs: list[str] | None,
                user_groups: list[dict[str, str]]) -> list[rule_checks.RuleSpec]:
    """The rule rows an authorize request asks for, validated (nothing is written)."""
    proto = rule_checks.check_protocol(protocol)
    start, end = rule_checks.check_ports(proto, start_port, end_port, icmp_type, icmp_code)
    nets = rule_checks.check_cidrs(cidrs)
    targets: list[int] = []
    for entry in user_groups:
        account_name, group_name = entry.get("account"), entry.get("group")
        if not account_name or not group_name:
            raise InvalidParameter("Invalid parameter usersecuritygrouplist: each entry needs account and group")
        account = session.scalar(select(Account).where(Account.domain_id == group.domain_id,
                                                       Account.account_name == account_name,
                                                       Account.removed.is_(None)))
        if account is None:
            raise InvalidParameter(f"Invalid parameter usersecuritygrouplist: nonexistent account {account_name} "
                                   f"when trying to authorize a rule for security group {group.name}")
        target = session.scalar(select(SecurityGroup.id).where(SecurityGroup.account_id == account.id,
                                                               SecurityGroup.name == group_name))
        if target is None:
            raise InvalidParameter(f"Invalid parameter usersecuritygrouplist: nonexistent group {group_name} for "
                                   f"account {account_name}")
        targets.append(target)
    if not nets and not targets:
        raise InvalidParameter("At least one cidr (cidrlist) or security group (usersecuritygrouplist) needs to be "
                               "specified")
    return [rule_checks.RuleSpec(proto, start, end, cidr=c) for c in nets] + \
        [rule_checks.RuleSpec(proto, start, end, group_id=g) for g in dict.fromkeys(targets)]


def authorize(session: Session, caller: Caller, group: SecurityGroup, direction: str,
              specs: list[rule_checks.RuleSpec]) -> list[SecurityGroupRule]:
    check_access(session, caller, group)
    existing = {(r.protocol, r.start_port, r.end_port, r.allowed_ip_cidr, r.allowed_group_id) for r in
                session.scalars(select(SecurityGroupRule).where(SecurityGroupRule.security_group_id == group.id,
                                                                SecurityGroupRule.type == direction))}
    added = []
    for spec in specs:
        if (spec.protocol, spec.start_port, spec.end_port, spec.cidr, spec.group_id) in existing:
            continue  # as CloudStack: an identical rule is not added twice
        rule = SecurityGroupRule(security_group_id=group.id, type=direction, protocol=spec.protocol,
                                 start_port=spec.start_port, end_port=spec.end_port, allowed_ip_cidr=spec.cidr,
                                 allowed_group_id=spec.group_id)
        session.add(rule)
        added.append(rule)
    session.flush()
    if added:
        sync.mark(session, sync.members(session, [group.id]))
    events.record(session, caller, EVENT[direction][0], f"Authorized {len(added)} {direction} rule(s) for security "
                  f"group {group.name}", resource=group, resource_type="SecurityGroup", account_id=group.account_id,
                  domain_id=group.domain_id)
    return added


def check_revoke(session: Session, caller: Caller, rule: SecurityGroupRule, direction: str) -> SecurityGroup:
    group = session.get(SecurityGroup, rule.security_group_id)
    check_access(session, caller, group)
    if rule.type != direction:
        raise InvalidParameter(f"Invalid value for parameter id: rule {rule.uuid} is an {rule.type} rule, not an "
                               f"{direction} rule")
    return group


def revoke(session: Session, caller: Caller, rule: SecurityGroupRule, direction: str) -> None:
    group = check_revoke(session, caller, rule, direction)
    session.delete(rule)
    session.flush()
    sync.mark(session, sync.members(session, [group.id]))
    events.record(session, caller, EVENT[direction][1], f"Revoked {direction} rule {rule.uuid} of security group "
                  f"{group.name}", resource=group, resource_type="SecurityGroup", account_id=group.account_id,
                  domain_id=group.domain_id)


def list_groups(session: Session, scope: Scope, *, group_id: int | None, name: str | None, vm: VMInstance | None,
                keyword: str | None, offset: int, limit: int | None,
                tags: list[dict[str, str]] | None = None) -> tuple[list[SecurityGroup], int]:
    query = select(SecurityGroup).where(scope.where(SecurityGroup.account_id, SecurityGroup.domain_id))
    if group_id is not None:
        query = query.where(SecurityGroup.id == group_id)
    if name is not None:
        query = query.where(SecurityGroup.name == name)
    if keyword:
        query = query.where(or_(SecurityGroup.name.contains(keyword), SecurityGroup.description.contains(keyword)))
    if vm is not None:
        query = query.where(SecurityGroup.id.in_(select(SecurityGroupVmMap.security_group_id)
                                                 .where(SecurityGroupVmMap.vm_id == vm.id)))
    query = tag_service.filtered(query, "SecurityGroup", SecurityGroup.id, tags or [])
    return page(session, query.order_by(SecurityGroup.id), offset, limit)


# --- VM membership -----------------------------------------------------------------------------------------

def groups_for_deploy(session: Session, owner: Account, zone: Zone, requested: list[str]) -> list[SecurityGroup]:
    """The groups a new VM joins: those named (ids or names, the owner's own), else ``default`` in SG zones."""
    if requested and not zone.security_groups_enabled:
        raise InvalidParameter("Invalid parameter securitygroupids/securitygroupnames: security groups are not "
                               f"enabled in zone {zone.uuid}")
    groups = []
    for item in dict.fromkeys(requested):
        group = session.scalar(select(SecurityGroup).where(SecurityGroup.uuid == item))
        param = "securitygroupids"
        if group is None:
            param = "securitygroupnames"
            group = session.scalar(select(SecurityGroup).where(SecurityGroup.account_id == owner.id,
                                                               SecurityGroup.name == item))
        if group is None or group.account_id != owner.id:
            raise InvalidParameter(f"Invalid parameter {param}: unable to find security group {item} of account "
                                   f"{owner.account_name}")
        groups.append(group)
    if not groups and zone.security_groups_enabled:
        groups.append(ensure_default(session, owner))
    return groups


def join(session: Session, vm: VMInstance, groups: list[SecurityGroup]) -> None:
    for group in groups:
        session.add(SecurityGroupVmMap(security_group_id=group.id, vm_id=vm.id))
        events.record_usage(session, "SG.ASSIGN", account_id=vm.account_id, zone_id=vm.zone_id, resource_id=vm.id,
                            resource_name=vm.instance_name, offering_id=group.id)
    session.flush()
    vm.security_groups = json.dumps([g.uuid for g in groups]) if groups else vm.security_groups
    ids = [g.id for g in groups]
    sync.mark(session, [vm.id] + sync.referencing_members(session, ids))


def set_groups(session: Session, vm: VMInstance, groups: list[SecurityGroup]) -> None:
    """updateVirtualMachine: the VM's groups become ``groups`` (it is stopped; its rules follow at start)."""
    old = set(session.scalars(select(SecurityGroupVmMap.security_group_id).where(SecurityGroupVmMap.vm_id == vm.id)))
    new = {g.id for g in groups}
    gone = old - new
    if gone:
        session.execute(delete(SecurityGroupVmMap).where(SecurityGroupVmMap.vm_id == vm.id,
                                                         SecurityGroupVmMap.security_group_id.in_(gone)))
        for group_id in sorted(gone):
            events.record_usage(session, "SG.REMOVE", account_id=vm.account_id, zone_id=vm.zone_id,
                                resource_id=vm.id, resource_name=vm.instance_name, offering_id=group_id)
    join(session, vm, [g for g in groups if g.id not in old])
    vm.security_groups = json.dumps([g.uuid for g in groups])
    sync.mark(session, [vm.id] + sync.referencing_members(session, list(gone | new)))


def leave_all(session: Session, vm: VMInstance) -> None:
    ids = list(session.scalars(select(SecurityGroupVmMap.security_group_id).where(SecurityGroupVmMap.vm_id == vm.id)))
    if not ids:
        return
    session.execute(delete(SecurityGroupVmMap).where(SecurityGroupVmMap.vm_id == vm.id))
    for group_id in ids:
        events.record_usage(session, "SG.REMOVE", account_id=vm.account_id, zone_id=vm.zone_id, resource_id=vm.id,
                            resource_name=vm.instance_name, offering_id=group_id)
    sync.mark(session, [vm.id] + sync.referencing_members(session, ids))
