"""Static NAT: a public IP of an account maps one to one to a guest address of one of its VMs.

The mapping is programmed on the host the VM runs on (``agent.protocol_nat``): when enabled for a running VM,
when the VM starts, moves (migration) or its host's agent reconnects (the full set is re-sent); it is
removed when disabled, when the IP is released, when the VM stops and when it is expunged. The database row
(``user_ip_address.one_to_one_nat``, ``vm_id``, ``vm_ip_address``) changes in the same transaction as the
host call succeeds: a failed call leaves both as they were.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from agent.protocol_nat import ApplyStaticNat, StaticNatRule, SyncStaticNat
from management.compute import states
from management.compute.vm_models import Nic, VMInstance
from management.context import Caller
from management.errors import CloudError, InvalidParameter, NetworkRuleConflict
from management.events import service as events
from management.iam.access import check_account_access
from management.iam.models import Account
from management.infra.models import Host, IpAddress
from management.network import physical, public_ips
from management.network.models import NicSecondaryIp

log = logging.getLogger(__name__)
USABLE_STATES = (states.RUNNING, states.STOPPED, states.STARTING, states.STOPPING)


class StaticNatFailed(CloudError):
    """The host refused or did not answer (530, as CloudStack's 'Failed to enable static nat')."""


def public_device(session: Session, zone_id: int) -> str | None:
    """The zone's Public traffic label; None lets the agent use its own ``public.network.device``."""
    return physical.traffic_label(session, zone_id, "Public")


def rules_of(session: Session, vm: VMInstance) -> list[StaticNatRule]:
    rows = session.scalars(select(IpAddress).where(IpAddress.vm_id == vm.id, IpAddress.one_to_one_nat.is_(True),
                                                   IpAddress.state == "Allocated")).all()
    device = public_device(session, vm.zone_id)
    return [StaticNatRule(public_ip=r.address, guest_ip=r.vm_ip_address, vm_name=vm.instance_name or "",
                          public_device=device) for r in rows if r.vm_ip_address]


def _rule(session: Session, ip: IpAddress, vm: VMInstance, guest_ip: str) -> StaticNatRule:
    return StaticNatRule(public_ip=ip.address, guest_ip=guest_ip, vm_name=vm.instance_name or "",
                         public_device=public_device(session, vm.zone_id))


def _call(session: Session, host_id: int | None, command) -> None:
    if host_id is None:
        return
    from management.compute.vm_tx import agent_call

    host = session.get(Host, host_id)
    answer = agent_call(host, command, timeout=60)
    if not answer.ok:
        raise StaticNatFailed(f"Failed to program static NAT on host {host.name}: {answer.details}")


def _guest_addresses(session: Session, vm: VMInstance) -> list[str]:
    primary = session.scalars(select(Nic.ip_address).where(Nic.vm_id == vm.id, Nic.removed.is_(None))
                              .order_by(Nic.is_default.desc(), Nic.device_id)).all()
    secondary = session.scalars(select(NicSecondaryIp.ip_address).where(NicSecondaryIp.vm_id == vm.id)).all()
    return [a for a in primary if a] + list(secondary)


def enable(session: Session, caller: Caller, ip: IpAddress, vm: VMInstance, guest_ip: str | None) -> None:
    public_ips.check_owned(session, caller, ip)
    if vm.removed is not None or vm.state not in USABLE_STATES:
        raise InvalidParameter(f"Invalid parameter virtualmachineid value={vm.uuid}: static NAT needs a running or "
                               f"stopped virtual machine (it is {vm.state})")
    check_account_access(session, caller, session.get(Account, vm.account_id))
    if vm.account_id != ip.account_id:
        raise InvalidParameter(f"Failed to enable static nat for the ip address id={ip.uuid} as vm id={vm.uuid} "
                               "is owned by a different account than the ip address")
    if vm.zone_id != ip.zone_id:
        raise InvalidParameter(f"Invalid parameter virtualmachineid value={vm.uuid}: the VM is in another zone "
                               "than the ip address")
    addresses = _guest_addresses(session, vm)
    if guest_ip is None:
        if not addresses:
            raise InvalidParameter(f"Virtual machine {vm.uuid} has no guest address")
        guest_ip = addresses[0]
    elif guest_ip not in addresses:
        raise InvalidParameter(f"Invalid parameter vmguestip value={guest_ip}: not an address of a NIC of virtual "
                               f"machine {vm.uuid}")
    if ip.one_to_one_nat:
        if ip.vm_id == vm.id and ip.vm_ip_address == guest_ip:
            return  # already so: nothing to do
        raise NetworkRuleConflict(f"Failed to enable static nat for the ip address id={ip.uuid} as it is already "
                                  "assigned to a virtual machine: disable static nat first")
    other = session.scalar(select(IpAddress).where(IpAddress.vm_id == vm.id, IpAddress.one_to_one_nat.is_(True),
                                                   IpAddress.vm_ip_address == guest_ip))
    if other is not None:
        raise NetworkRuleConflict(f"Failed to enable static nat for the ip address id={ip.uuid}: the guest address "
                                  f"{guest_ip} of vm id={vm.uuid} is already associated with ip {other.address}")
    done = session.execute(update(IpAddress).where(IpAddress.id == ip.id, IpAddress.one_to_one_nat.is_(False),
                                                   IpAddress.state == "Allocated")
                           .values(one_to_one_nat=True, vm_id=vm.id, vm_ip_address=guest_ip)
                           .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise NetworkRuleConflict(f"Failed to enable static nat for the ip address id={ip.uuid}: it changed meanwhile")
    session.expire(ip)
    if vm.state == states.RUNNING:
        _call(session, vm.host_id, ApplyStaticNat(rules=[_rule(session, ip, vm, guest_ip)]))
    events.record(session, caller, "STATICNAT.ENABLE", f"Enabled static NAT of {ip.address} to {guest_ip} of VM "
                  f"{vm.instance_name}", resource=ip, resource_type="IpAddress", account_id=vm.account_id,
                  domain_id=vm.domain_id)


def check_disable(session: Session, caller: Caller, ip: IpAddress) -> None:
    public_ips.check_owned(session, caller, ip)
    if not ip.one_to_one_nat:
        raise InvalidParameter(f"Specified IP address id={ip.uuid} is not associated with any vm via static nat")


def disable(session: Session, caller: Caller, ip: IpAddress, *, host_call: bool = True) -> None:
    """Revoke on the VM's host (if it runs), then clear the row. ``host_call`` False: the VM is not on a host."""
    vm = session.get(VMInstance, ip.vm_id) if ip.vm_id else None
    if vm is not None and host_call and vm.state == states.RUNNING and ip.vm_ip_address:
        _call(session, vm.host_id, ApplyStaticNat(revoke=True, rules=[_rule(session, ip, vm, ip.vm_ip_address)]))
    session.execute(update(IpAddress).where(IpAddress.id == ip.id).values(one_to_one_nat=False, vm_id=None,
                                                                          vm_ip_address=None)
                    .execution_options(synchronize_session=False))
    session.expire(ip)
    events.record(session, caller, "STATICNAT.DISABLE", f"Disabled static NAT of {ip.address}", resource=ip,
                  resource_type="IpAddress", account_id=ip.account_id, domain_id=ip.domain_id)


# --- VM lifecycle and agent reconnects ----------------------------------------------------------------

def _after_commit(session: Session, fn) -> None:
    from management.jobs.service import after_commit

    def guarded() -> None:
        try:
            fn()
        except Exception:
            log.warning("static NAT host update failed", exc_info=True)

    after_commit(session, guarded)


def _send(host_id: int, command, host: Host | None = None) -> None:
    """After a commit: a read session only (on SQLite a write session would wait for the write lock)."""
    from management.compute.vm_tx import agent_call
    from management.db import db

    if host is None:
        with db.read_session() as session:
            host = session.get(Host, host_id)
            if host is None:
                return
            session.expunge(host)
    answer = agent_call(host, command, timeout=60)
    if not answer.ok:
        log.warning("static NAT on host %s: %s", host.name, answer.details)


def on_started(ctx, vm_id: int, host) -> None:
    """AFTER_START: the VM runs on ``host``: program its static NAT there. Reads in the job's session (on SQLite
    another session would wait for the job's write lock)."""
    vm = ctx.session.get(VMInstance, vm_id)
    rules = rules_of(ctx.session, vm) if vm is not None else []
    if rules:
        _send(host.id, ApplyStaticNat(rules=rules), host=host)


def on_stopped(session: Session, vm: VMInstance, host_id: int | None) -> None:
    rules = rules_of(session, vm)
    if rules and host_id is not None:
        _after_commit(session, lambda: _send(host_id, ApplyStaticNat(revoke=True, rules=rules)))


def on_migrated(session: Session, vm: VMInstance, source, target) -> None:
    rules = rules_of(session, vm)
    if rules:
        source_id, target_id = getattr(source, "id", source), getattr(target, "id", target)

        def move() -> None:
            if source_id is not None:
                _send(source_id, ApplyStaticNat(revoke=True, rules=rules))
            if target_id is not None:
                _send(target_id, ApplyStaticNat(rules=rules))

        _after_commit(session, move)


def on_expunge(session: Session, vm: VMInstance) -> None:
    """The VM goes: its public IPs stay with the account, their static NAT goes (the VM is off its host)."""
    from management.context import Caller as _Caller

    system = _Caller(user_id=1, account_id=vm.account_id, domain_id=vm.domain_id, domain_path="/", account_type=1,
                     role_id=None, role_type="Admin", username="system")
    for ip in session.scalars(select(IpAddress).where(IpAddress.vm_id == vm.id,
                                                      IpAddress.one_to_one_nat.is_(True))).all():
        disable(session, system, ip, host_call=False)
    for secondary in session.scalars(select(NicSecondaryIp).where(NicSecondaryIp.vm_id == vm.id)).all():
        from management.infra import ips

        row = session.get(IpAddress, secondary.ip_id)
        session.delete(secondary)
        session.flush()
        if row is not None:
            ips.release_ip(session, row)


def on_agent_startup(session: Session, host: Host) -> None:
    """STARTUP_HANDLERS: an agent (re)connected: send it the complete static NAT of the VMs it runs."""
    vms = session.scalars(select(VMInstance).where(VMInstance.host_id == host.id, VMInstance.removed.is_(None),
                                                   VMInstance.state.in_((states.RUNNING, states.STARTING,
                                                                         states.STOPPING)))).all()
    rules = [rule for vm in vms for rule in rules_of(session, vm)]
    host_id = host.id
    _after_commit(session, lambda: _send(host_id, SyncStaticNat(rules=rules)))


def register() -> None:
    from management.compute import vm_lifecycle
    from management.infra import agent_tasks
    from management.limits import service as limits

    vm_lifecycle.add(vm_lifecycle.AFTER_START, on_started)
    vm_lifecycle.add(vm_lifecycle.STOPPED_HOOKS, on_stopped)
    vm_lifecycle.add(vm_lifecycle.MIGRATED_HOOKS, on_migrated)
    vm_lifecycle.add(vm_lifecycle.EXPUNGE_HOOKS, on_expunge)
    if on_agent_startup not in agent_tasks.STARTUP_HANDLERS:
        agent_tasks.STARTUP_HANDLERS.append(on_agent_startup)
    limits.register_counter("public_ip", public_ips.count_public)
