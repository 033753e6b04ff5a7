"""Security group response objects (CloudStack's SecurityGroupResponse / SecurityGroupRuleResponse)."""

from __future__ import annotations

from collections import defaultdict

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from management.api.native.responses import ResponseObject
from management.compute.vm_models import VMInstance
from management.iam.models import Account, Domain
from management.iam.responses import domain_display_path
from management.securitygroups.models import INGRESS, SecurityGroup, SecurityGroupRule, SecurityGroupVmMap
from management.tags import service as tag_service


class SecurityGroupRuleResponse(ResponseObject):
    object_name = "securitygrouprule"

    ruleid: str
    protocol: str | None = None
    startport: int | None = None
    endport: int | None = None
    icmptype: int | None = None
    icmpcode: int | None = None
    cidr: str | None = None
    account: str | None = None  # a rule naming a group: that group's account and name
    securitygroupname: str | None = None
    tags: list = Field(default_factory=list)


class SecurityGroupResponse(ResponseObject):
    object_name = "securitygroup"

    id: str
    name: str
    description: str | None = None
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None
    virtualmachinecount: int = 0
    virtualmachineids: list[str] = Field(default_factory=list)
    ingressrule: list[SecurityGroupRuleResponse] = Field(default_factory=list)
    egressrule: list[SecurityGroupRuleResponse] = Field(default_factory=list)
    tags: list = Field(default_factory=list)


def _rule_view(rule: SecurityGroupRule, groups: dict[int, SecurityGroup],
               accounts: dict[int, Account]) -> SecurityGroupRuleResponse:
    view = SecurityGroupRuleResponse(ruleid=rule.uuid, protocol=rule.protocol, cidr=rule.allowed_ip_cidr)
    if rule.protocol == "icmp":
        view.icmptype, view.icmpcode = rule.start_port, rule.end_port
    else:
        view.startport, view.endport = rule.start_port, rule.end_port
    other = groups.get(rule.allowed_group_id) if rule.allowed_group_id else None
    if other is not None:
        view.securitygroupname = other.name
        view.account = accounts[other.account_id].account_name if other.account_id in accounts else None
    return view


def group_views(session: Session, rows: list[SecurityGroup], *, only_rules: list[SecurityGroupRule] | None = None
                ) -> list[SecurityGroupResponse]:
    """Views of ``rows`` with their rules (or only ``only_rules``: authorize answers with the rules it added)."""
    tag_map = tag_service.tags_of(session, "SecurityGroup", [g.id for g in rows])
    ids = [g.id for g in rows]
    if not ids:
        return []
    rules = only_rules if only_rules is not None else session.scalars(
        select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(ids)).order_by(SecurityGroupRule.id)
    ).all()
    named = {r.allowed_group_id for r in rules if r.allowed_group_id} - set(ids)
    groups = {g.id: g for g in rows}
    if named:
        groups.update({g.id: g for g in session.scalars(select(SecurityGroup).where(SecurityGroup.id.in_(named)))})
    accounts = {a.id: a for a in session.scalars(select(Account).where(
        Account.id.in_({g.account_id for g in groups.values()})))}
    domains = {d.id: d for d in session.scalars(select(Domain).where(Domain.id.in_({g.domain_id for g in rows})))}
    vms: dict[int, list[str]] = defaultdict(list)
    for group_id, vm_uuid in session.execute(
            select(SecurityGroupVmMap.security_group_id, VMInstance.uuid)
            .join(VMInstance, VMInstance.id == SecurityGroupVmMap.vm_id)
            .where(SecurityGroupVmMap.security_group_id.in_(ids), VMInstance.removed.is_(None))
            .order_by(VMInstance.id)):
        vms[group_id].append(vm_uuid)
    by_group: dict[int, list[SecurityGroupRule]] = defaultdict(list)
    for rule in rules:
        by_group[rule.security_group_id].append(rule)
    views = []
    for g in rows:
        account, domain = accounts.get(g.account_id), domains.get(g.domain_id)
        own = by_group.get(g.id, [])
        views.append(SecurityGroupResponse(tags=tag_map.get(g.id, []),
            id=g.uuid, name=g.name, description=g.description, account=account.account_name if account else None,
            domainid=domain.uuid if domain else None, domain=domain.name if domain else None,
            domainpath=domain_display_path(domain) if domain else None, virtualmachinecount=len(vms.get(g.id, [])),
            virtualmachineids=vms.get(g.id, []),
            ingressrule=[_rule_view(r, groups, accounts) for r in own if r.type == INGRESS],
            egressrule=[_rule_view(r, groups, accounts) for r in own if r.type != INGRESS]))
    return views
