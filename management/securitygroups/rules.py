"""Rule input validation (CloudStack's checks, 431 naming the parameter) and each VM's effective rule set."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.protocol_network import SgRule
from management.compute.vm_models import Nic, VMInstance
from management.errors import InvalidParameter
from management.securitygroups.models import INGRESS, SecurityGroupRule, SecurityGroupVmMap

PROTOCOLS = ("tcp", "udp", "icmp", "all")


@dataclass(frozen=True)
class RuleSpec:
    """One rule row to insert: a protocol with ports (tcp/udp) or type/code (icmp, in start/end as CloudStack
    stores them), and a CIDR or a group."""

    protocol: str
    start_port: int | None
    end_port: int | None
    cidr: str | None = None
    group_id: int | None = None


def _int(name: str, value, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not low <= value <= high:
        raise InvalidParameter(f"Invalid value for parameter {name}: {value} (expected {low} to {high})")
    return value


def check_protocol(protocol: str | None) -> str:
    proto = (protocol or "all").strip().lower()
    if proto in PROTOCOLS:
        return proto
    if proto.isdigit() and 0 <= int(proto) <= 255:
        return {"6": "tcp", "17": "udp", "1": "icmp"}.get(proto, proto)
    raise InvalidParameter(f"Invalid value for parameter protocol: {protocol} (expected TCP, UDP, ICMP, ALL or a "
                           "protocol number 0-255)")


def check_ports(proto: str, start: int | None, end: int | None, icmp_type: int | None,
                icmp_code: int | None) -> tuple[int | None, int | None]:
    if proto in ("tcp", "udp"):
        if icmp_type is not None or icmp_code is not None:
            raise InvalidParameter("Invalid parameter icmptype/icmpcode: they apply to protocol ICMP only")
        if start is None or end is None:
            raise InvalidParameter(f"Invalid port range: startport and endport are required for protocol {proto}")
        _int("startport", start, 0, 65535)
        _int("endport", end, 0, 65535)
        if start > end:
            raise InvalidParameter(f"Invalid port range: startport {start} is greater than endport {end}")
        return start, end
    if start is not None or end is not None:
        raise InvalidParameter(f"Invalid parameter startport/endport: ports apply to TCP and UDP only, not {proto}")
    if proto == "icmp":
        icmp_type = -1 if icmp_type is None else _int("icmptype", icmp_type, -1, 255)
        icmp_code = -1 if icmp_code is None else _int("icmpcode", icmp_code, -1, 255)
        if icmp_type == -1 and icmp_code != -1:
            raise InvalidParameter("Invalid parameter icmpcode: an ICMP code needs an ICMP type (icmptype)")
        return icmp_type, icmp_code
    if icmp_type is not None or icmp_code is not None:
        raise InvalidParameter(f"Invalid parameter icmptype/icmpcode: they apply to protocol ICMP only, not {proto}")
    return None, None


def check_cidrs(cidrs: list[str] | None) -> list[str]:
    nets = []
    for raw in cidrs or []:
        text = raw.strip()
        try:
            if "/" not in text:
                raise ValueError
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidParameter(f"Invalid value for parameter cidrlist: {raw} is not a CIDR "
                                   "(e.g. 10.1.0.0/16)") from None
        for other in nets:
            if net.version == other.version and net.overlaps(other):
                raise InvalidParameter(f"Invalid value for parameter cidrlist: {other} and {net} overlap")
        nets.append(net)
    return [str(n) for n in nets]


def effective_rules(session: Session, vm_ids: list[int]) -> dict[int, tuple[list[SgRule], list[SgRule]]]:
    """{vm id: (ingress, egress)} — the rules of the VMs' groups, a rule naming a group expanded to the
    current addresses of that group's VMs. A few queries whatever the number of VMs."""
    groups_of: dict[int, set[int]] = defaultdict(set)
    for group_id, vm_id in session.execute(select(SecurityGroupVmMap.security_group_id, SecurityGroupVmMap.vm_id)
                                           .where(SecurityGroupVmMap.vm_id.in_(vm_ids))):
        groups_of[vm_id].add(group_id)
    all_groups = set().union(*groups_of.values()) if groups_of else set()
    rules = session.scalars(select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(all_groups))
                            .order_by(SecurityGroupRule.id)).all() if all_groups else []
    named = {r.allowed_group_id for r in rules if r.allowed_group_id is not None}
    members: dict[int, list[str]] = defaultdict(list)
    if named:
        for group_id, ip in session.execute(
                select(SecurityGroupVmMap.security_group_id, Nic.ip_address)
                .join(VMInstance, VMInstance.id == SecurityGroupVmMap.vm_id)
                .join(Nic, (Nic.vm_id == VMInstance.id) & Nic.removed.is_(None))
                .where(SecurityGroupVmMap.security_group_id.in_(named), VMInstance.removed.is_(None),
                       Nic.ip_address.is_not(None)).order_by(Nic.ip_address)):
            members[group_id].append(f"{ip}/32")
    by_group: dict[int, list[tuple[str, SgRule]]] = defaultdict(list)
    for r in rules:
        cidrs = [r.allowed_ip_cidr] if r.allowed_ip_cidr else members.get(r.allowed_group_id, [])
        if r.protocol == "icmp":
            rule = SgRule(protocol="icmp", icmp_type=r.start_port, icmp_code=r.end_port, cidrs=cidrs)
        else:
            rule = SgRule(protocol=r.protocol, start_port=r.start_port, end_port=r.end_port, cidrs=cidrs)
        by_group[r.security_group_id].append((r.type, rule))
    result = {}
    for vm_id in vm_ids:
        ingress, egress = [], []
        for group_id in sorted(groups_of.get(vm_id, ())):
            for kind, rule in by_group.get(group_id, []):
                (ingress if kind == INGRESS else egress).append(rule)
        result[vm_id] = (ingress, egress)
    return result
