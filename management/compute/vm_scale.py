"""scaleVirtualMachine of a Running VM: vCPUs and memory grown in place on its host (dynamic scaling).

CloudStack's rules apply: ``enable.dynamic.scale.vm`` is on, the VM is dynamically scalable (from its template,
or set with updateVirtualMachine) and so are its current and new offerings (``dynamicscalingenabled``), and it
only grows (no value lower than now, at least one higher). A VM started while all this held was defined with
room to grow (``VmSpec.max_vcpus``/``max_memory_mb``: ``vm.serviceoffering.cpu.cores.max`` vCPUs and
``vm.serviceoffering.ram.size.max`` MiB, 0 meaning its host's); the agent refuses to go past that room.

The job first records the new size on the VM (a compare-and-set on its ``update_count``, so two scales of one
VM cannot both count from the same size) together with the extra CPU and memory reserved on its host and in
the account's limits; then the agent hot-plugs it. When the agent fails, the old size and the reservations
come back. When the worker dies in between, the VM's recorded size is the new one and the orphan handler asks
the agent again (recorded as a VM.DYNAMIC.SCALE event; a VM that cannot be reached raises an alert and gets
that size at its next start).
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import update

from agent.protocol import ScaleVm
from management.compute import planner, states, vm_lifecycle, vms
from management.compute.models import ServiceOffering
from management.compute.vm_models import VMInstance
from management.compute.vm_tx import agent_call, step
from management.config import service as config
from management.context import Context, system_caller
from management.db import db, utcnow
from management.errors import CloudError, Conflict, InsufficientCapacity, InvalidParameter, ResourceUnavailable
from management.events import alerts
from management.events import service as events
from management.infra.models import Cluster, Host, Zone
from management.limits import service as limits

log = logging.getLogger(__name__)

SETTING = "enable.dynamic.scale.vm"
CUSTOM_KEYS = ("cpuNumber", "cpuSpeed", "memory")


def enabled(session, vm: VMInstance) -> bool:
    """Dynamic scaling applies to this VM now (setting, VM and its offering all allow it)."""
    offering = session.get(ServiceOffering, vm.service_offering_id)
    return bool(config.get_bool(session, SETTING, zone=vm.zone_id) and vm.dynamically_scalable and offering is not None
                and offering.dynamic_scaling_enabled)


def room(session, vm: VMInstance, host: Host | None) -> tuple[int, int] | None:
    """(vCPUs, MiB) a VM starting on ``host`` may later grow to while running; None when it is fixed-size."""
    if host is None or not enabled(session, vm):
        return None
    cores = config.get_int(session, "vm.serviceoffering.cpu.cores.max", zone=vm.zone_id) or host.cpus
    memory = config.get_int(session, "vm.serviceoffering.ram.size.max", zone=vm.zone_id) or host.memory // planner.MB
    return max(cores, vm.cpu), max(memory, vm.memory)


def _spec_hook(session, vm: VMInstance, spec, host: Host | None) -> None:
    if host is None and vm.host_id is not None:
        host = session.get(Host, vm.host_id)
    limits_ = room(session, vm, host)
    if limits_ is not None:
        spec.max_vcpus, spec.max_memory_mb = limits_


def check(session, vm: VMInstance, offering: ServiceOffering, details: dict[str, str]) -> tuple[int, int, int]:
    """The request's checks for a Running VM; returns the new (cores, MHz, MiB)."""
    zone = session.get(Zone, vm.zone_id)
    if not config.get_bool(session, SETTING, zone=vm.zone_id):
        raise InvalidParameter("Dynamically scaling virtual machines is disabled for this zone, please contact your "
                               f"admin ({SETTING})")
    if not vm.dynamically_scalable:
        raise InvalidParameter(f"Unable to scale VM {vm.uuid} while it runs: it is not dynamically scalable "
                               "(isdynamicallyscalable; stop it first, or set it with updateVirtualMachine and "
                               "restart it)")
    current = session.get(ServiceOffering, vm.service_offering_id)
    for which, each in (("current", current), ("new", offering)):
        if each is not None and not each.dynamic_scaling_enabled:
            raise InvalidParameter(f"Unable to scale VM {vm.uuid} while it runs: dynamic scaling is not enabled "
                                   f"on its {which} service offering {each.name} (serviceofferingid)")
    vms.check_offering(session, offering, zone)
    if offering.id == vm.service_offering_id and not offering.customized:
        raise InvalidParameter(f"Not upgrading vm {vm.uuid} since it already has the requested service offering "
                               f"({offering.name})")
    if current is not None and (current.storage_type or "shared") != (offering.storage_type or "shared"):
        raise InvalidParameter("Unable to upgrade: the new offering uses a different storage type")
    cpu, speed, memory = vms.compute_of(offering, details)
    if cpu < vm.cpu or speed < vm.speed or memory < vm.memory or (cpu, speed, memory) == (vm.cpu, vm.speed,
                                                                                          vm.memory):
        raise InvalidParameter(f"Only scaling up the vm is supported, new service offering(speed={speed}, "
                               f"cpu={cpu}, memory={memory}) should have at least one value(cpu/ram) greater than "
                               f"old value and no resource value less than older(speed={vm.speed}, cpu={vm.cpu}, "
                               f"memory={vm.memory}) (serviceofferingid)")
    host = session.get(Host, vm.host_id) if vm.host_id else None
    grow_to = room(session, vm, host)
    if grow_to is not None and (cpu > grow_to[0] or memory > grow_to[1]):
        raise InvalidParameter(f"Unable to scale VM {vm.uuid} to {cpu} vCPUs and {memory} MiB: at most "
                               f"{grow_to[0]} vCPUs and {grow_to[1]} MiB (vm.serviceoffering.cpu.cores.max, "
                               "vm.serviceoffering.ram.size.max, or the host's size)")
    return cpu, speed, memory


def scale(ctx: Context, vm_id: int, offering_id: int, details: dict[str, str]) -> None:
    """The job: record and reserve the new size, have the agent hot-plug it, give it back if that fails. When
    the VM's host has no room for the new size, the VM is first live-migrated to a host that has (as
    CloudStack does), then scaled there."""
    moved = False
    while True:
        with step(ctx) as s:
            size, room_for = _reserve(s, vm_id, offering_id, details, may_move=not moved)
            if room_for is None:
                cpu, speed, memory = size
                vm = s.get(VMInstance, vm_id)  # as _reserve just read them
                offering = s.get(ServiceOffering, offering_id)
                host = s.get(Host, vm.host_id)
                old = (vm.cpu, vm.speed, vm.memory, vm.service_offering_id, vm.limit_cpu_use, vm.details)
                extra_mhz, extra_mb = cpu * speed - vm.cpu * vm.speed, memory - vm.memory
                _record(s, vm, offering, cpu, speed, memory, details)
                name, uuid, account_id = vm.instance_name, vm.uuid, vm.account_id
                s.expunge(host)
        if room_for is None:
            break
        _move(ctx, vm_id, room_for)
        moved = True
    answer = _ask(host, ScaleVm(name=name, vcpus=cpu, cpu_speed_mhz=speed, memory_mb=memory))
    if answer is not None:
        with step(ctx) as s:
            vm = _fresh(s, vm_id)
            if (vm.cpu, vm.speed, vm.memory) == (cpu, speed, memory):
                vm.cpu, vm.speed, vm.memory, vm.service_offering_id, vm.limit_cpu_use, vm.details = old
                vm.update_count += 1
            planner.release_host(s, host.id, extra_mhz, extra_mb * planner.MB)
            for resource, amount in (("cpu", cpu - old[0]), ("memory", extra_mb)):
                if amount > 0:
                    limits.release(s, account_id=account_id, resource=resource, amount=amount)
        raise ResourceUnavailable(f"Unable to scale VM {uuid}: {answer}")
    with step(ctx) as s:
        vm = _fresh(s, vm_id)
        offering = s.get(ServiceOffering, offering_id)
        text = f"Scaled VM {vm.instance_name} to offering {offering.name} ({cpu} vCPUs, {speed} MHz, {memory} MiB)"
        events.record(s, ctx.caller, "VM.DYNAMIC.SCALE", text, resource=vm, resource_type="VirtualMachine",
                      account_id=vm.account_id, domain_id=vm.domain_id)
        custom = {k: v for k, v in details.items() if k in CUSTOM_KEYS}
        events.record_usage(s, "VM.DYNAMIC.SCALE", account_id=vm.account_id, zone_id=vm.zone_id, resource_id=vm.id,
                            resource_name=vm.instance_name, offering_id=offering.id, template_id=vm.template_id,
                            resource_type=vm.hypervisor_type, details=custom or None)


def _reserve(s, vm_id: int, offering_id: int, details: dict[str, str], *,
             may_move: bool) -> tuple[tuple[int, int, int] | None, planner.Need | None]:
    """Check the request and take the extra CPU and memory on the VM's host and in the account's counts.
    Returns the new (cores, MHz, MiB) when taken; else (the host is full and ``may_move``) the whole new size
    another host must have room for."""
    vm = _fresh(s, vm_id)
    if vm.state != states.RUNNING:
        raise InvalidParameter(f"Unable to scale VM {vm.uuid}: it is {vm.state}")
    offering = s.get(ServiceOffering, offering_id)
    cpu, speed, memory = check(s, vm, offering, details)
    host = s.get(Host, vm.host_id)
    extra_mhz, extra_mb = cpu * speed - vm.cpu * vm.speed, memory - vm.memory
    need = planner.Need(cpu_mhz=extra_mhz, memory_bytes=extra_mb * planner.MB, hypervisor=None)
    if not planner.reserve_host(s, host, s.get(Cluster, host.cluster_id), need):
        if not may_move:
            raise InsufficientCapacity(f"Unable to scale VM {vm.uuid}: host {host.name} has not enough CPU or memory "
                                       "left for the new size")
        current = s.get(ServiceOffering, vm.service_offering_id)
        return None, planner.Need(cpu_mhz=cpu * speed, memory_bytes=memory * planner.MB,
                                  hypervisor=vm.hypervisor_type or None, host_tags=offering.host_tags,
                                  storage_tags=current.storage_tags if current else None)
    limits.reserve_many(s, account_id=vm.account_id,
                        amounts={k: v for k, v in (("cpu", cpu - vm.cpu), ("memory", extra_mb)) if v > 0})
    return (cpu, speed, memory), None


def _record(s, vm: VMInstance, offering: ServiceOffering, cpu: int, speed: int, memory: int,
            details: dict[str, str]) -> None:
    """The new size on the VM's row, unless another operation changed the VM meanwhile (409)."""
    merged = json.loads(vm.details) if vm.details else {}
    merged.update({k: v for k, v in details.items() if k in CUSTOM_KEYS})
    done = s.execute(update(VMInstance).where(
        VMInstance.id == vm.id, VMInstance.state == states.RUNNING, VMInstance.update_count == vm.update_count)
        .values(cpu=cpu, speed=speed, memory=memory, service_offering_id=offering.id,
                limit_cpu_use=offering.limit_cpu_use, details=json.dumps(merged) if merged else None,
                update_count=VMInstance.update_count + 1, updated=utcnow())
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict(f"VM {vm.uuid} was changed by another operation; try again")


def _move(ctx: Context, vm_id: int, room_for: planner.Need) -> None:
    """Live-migrate the VM to a host with room for its new size; 533 when there is none."""
    from management.compute import vm_orchestrate

    try:
        vm_orchestrate.migrate(ctx, vm_id, None, room_for=room_for)
    except InsufficientCapacity:
        with step(ctx) as s:
            vm = _fresh(s, vm_id)
            host = s.get(Host, vm.host_id)
            raise InsufficientCapacity(f"Unable to scale VM {vm.uuid}: neither its host {host.name} nor any other "
                                       "host it can move to has enough CPU or memory for the new size") from None


def _fresh(session, vm_id: int) -> VMInstance:
    return session.get(VMInstance, vm_id, populate_existing=True)


def _ask(host: Host, command: ScaleVm) -> str | None:
    """None when the agent scaled the VM; otherwise why not."""
    try:
        answer = agent_call(host, command, timeout=120)
    except CloudError as error:
        return error.message
    except Exception as error:  # the agent link failed: the VM is put back as it was
        log.warning("ScaleVm on host %s failed", host.name, exc_info=True)
        return f"ScaleVm on host {host.name} failed: {error}"
    return None if answer.ok else (answer.details or f"ScaleVm failed on host {host.name}")


def recover_orphan(orphan) -> None:
    """A scale job whose worker died: the VM's recorded size may be ahead of its domain; ask the agent again
    (scaling to the size a VM already has changes nothing). Unreachable, it gets that size at its next start."""
    if orphan.command != "scaleVirtualMachine" or orphan.instance_id is None:
        return
    with db.session() as s:
        vm = s.get(VMInstance, orphan.instance_id)
        if vm is None or vm.state != states.RUNNING or vm.host_id is None:
            return
        host = s.get(Host, vm.host_id)
        s.expunge(host)
        command = ScaleVm(name=vm.instance_name, vcpus=vm.cpu, cpu_speed_mhz=vm.speed, memory_mb=vm.memory)
    problem = _ask(host, command)
    with db.session() as s:
        vm = s.get(VMInstance, orphan.instance_id)
        if problem:
            log.warning("orphaned scale of VM %s: the host could not apply its size: %s", command.name, problem)
            alerts.raise_alert(s, alerts.USERVM, f"VM {command.name} may run smaller than recorded",
                               content=f"Its scale job's worker stopped and host {host.name} could not apply "
                                       f"{command.vcpus} vCPUs and {command.memory_mb} MiB: {problem}. It gets "
                                       "them at its next start.", zone_id=host.zone_id, pod_id=host.pod_id,
                               cluster_id=host.cluster_id)
        else:
            events.record(s, system_caller(), "VM.DYNAMIC.SCALE", f"Applied again the size of VM {command.name} "
                          f"({command.vcpus} vCPUs, {command.memory_mb} MiB) after its scale job's worker stopped",
                          resource=vm, resource_type="VirtualMachine", account_id=vm.account_id,
                          domain_id=vm.domain_id)


def register() -> None:
    from management.jobs import runner

    vm_lifecycle.add(vm_lifecycle.SPEC_HOOKS, _spec_hook)
    if recover_orphan not in runner.ORPHAN_HANDLERS:
        runner.ORPHAN_HANDLERS.append(recover_orphan)
