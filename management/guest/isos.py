"""attachIso / detachIso: an ISO of the zone's image store on the VM's CD-ROM (``hdc``).

A Running VM gets the media changed live on its host (libvirt updateDeviceFlags); a Stopped VM only
records ``vm_instance.iso_id`` and gets the ISO at its next start (the SPEC hook of ``config_drive``).
"""

from __future__ import annotations

from sqlalchemy import select

from agent.protocol_guest import ChangeCdrom
from management.compute import states
from management.compute import vms as vm_service
from management.compute.vm_models import VMInstance
from management.compute.vm_tx import agent_call, step
from management.context import Caller, Context
from management.errors import InvalidParameter, ResourceUnavailable
from management.events import service as events
from management.guest.config_drive import ISO_TARGET, iso_source
from management.infra.models import Host
from management.storage import templates as tmpl
from management.storage.models import Template

ALLOWED = (states.RUNNING, states.STOPPED)


def check_attach(session, caller: Caller, vm: VMInstance, iso: Template) -> None:
    vm_service.check_access(session, caller, vm)
    if iso.removed is not None or not iso.is_iso:
        raise InvalidParameter(f"Unable to find an ISO with id {iso.uuid} (id)")
    if not tmpl.can_use(session, caller, iso):
        raise InvalidParameter(f"Unable to use ISO {iso.uuid}: permission denied (id)")
    if vm.state not in ALLOWED:
        raise InvalidParameter(f"Invalid state of VM {vm.uuid} to attach an ISO: {vm.state} (Running or "
                               "Stopped needed)")
    if vm.iso_id is not None:
        raise InvalidParameter(f"VM {vm.uuid} already has an ISO attached: detach it first")
    if not vm_service.template_ready_in_zone(session, iso, _zone(session, vm)):
        raise InvalidParameter(f"ISO {iso.uuid} is not ready in the zone of VM {vm.uuid}")
    if iso_source(session, iso, vm.zone_id) is None:
        raise InvalidParameter(f"ISO {iso.uuid} has no ready copy on an image store of the zone of VM {vm.uuid}")


def _zone(session, vm: VMInstance):
    from management.infra.models import Zone

    return session.get(Zone, vm.zone_id)


def check_detach(session, caller: Caller, vm: VMInstance) -> None:
    vm_service.check_access(session, caller, vm)
    if vm.iso_id is None:
        raise InvalidParameter(f"The specified VM {vm.uuid} has no ISO attached to it.")
    if vm.state not in ALLOWED:
        raise InvalidParameter(f"Invalid state of VM {vm.uuid} to detach its ISO: {vm.state} (Running or "
                               "Stopped needed)")


def _fresh(session, vm_id: int) -> VMInstance:
    return session.scalars(select(VMInstance).where(VMInstance.id == vm_id)
                           .execution_options(populate_existing=True)).one()


def _change_live(ctx: Context, vm_id: int, source: tuple[str, str | None] | None) -> None:
    with step(ctx) as s:
        vm = _fresh(s, vm_id)
        if vm.state not in ALLOWED:
            raise InvalidParameter(f"VM {vm.uuid} is {vm.state}: its CD-ROM cannot be changed now")
        host = s.get(Host, vm.host_id) if vm.state == states.RUNNING and vm.host_id else None
        name = vm.instance_name
    if host is None:
        return
    path, store_url = source or (None, None)
    answer = agent_call(host, ChangeCdrom(name=name, target=ISO_TARGET, path=path, store_url=store_url), timeout=120)
    if not answer.ok:
        raise ResourceUnavailable(f"Unable to change the CD-ROM of VM {name} on host {host.name}: {answer.details}")


def attach(ctx: Context, vm_id: int, iso_id: int) -> None:
    with step(ctx) as s:
        iso = s.get(Template, iso_id)
        vm = _fresh(s, vm_id)
        if vm.iso_id is not None:
            raise InvalidParameter(f"VM {vm.uuid} already has an ISO attached: detach it first")
        source = iso_source(s, iso, vm.zone_id)
        if source is None:
            raise InvalidParameter(f"ISO {iso.uuid} has no ready copy on an image store of the zone of VM {vm.uuid}")
    _change_live(ctx, vm_id, source)
    with step(ctx) as s:
        vm = _fresh(s, vm_id)
        vm.iso_id = iso_id
        events.record(s, ctx.caller, "ISO.ATTACH", f"Attached ISO {iso.name} to VM {vm.instance_name}",
                      resource=vm, resource_type="VirtualMachine", account_id=vm.account_id,
                      domain_id=vm.domain_id)


def detach(ctx: Context, vm_id: int) -> None:
    _change_live(ctx, vm_id, None)
    with step(ctx) as s:
        vm = _fresh(s, vm_id)
        iso = s.get(Template, vm.iso_id) if vm.iso_id else None
        vm.iso_id = None
        events.record(s, ctx.caller, "ISO.DETACH", f"Detached ISO {iso.name if iso else ''} from VM "
                      f"{vm.instance_name}", resource=vm, resource_type="VirtualMachine",
                      account_id=vm.account_id, domain_id=vm.domain_id)
