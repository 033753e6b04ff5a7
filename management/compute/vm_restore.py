"""restoreVirtualMachine: a VM's ROOT disk made anew from its template, or from another one, as CloudStack does.

A Running VM is stopped first and started again at the end; a Stopped one stays Stopped. In one transaction the
old ROOT volume leaves the VM (state ``Destroy``, its ``volume`` and ``primary_storage`` counts given back) and
a new one takes device 0 (``Allocated``, made on a pool by the next start as at deploy: a qcow2 overlay on the
template's copy), the VM takes the new template and guest OS, and a password-enabled template gets a new
password (shown once in the response). The old disk's file is deleted at once with ``expunge=true``, otherwise
by the storage cleanup (``storage.cleanup.interval``), as CloudStack leaves a destroyed ROOT to its storage GC.

The new size: ``rootdisksize`` (GiB, not below the template's), else a non-custom ``diskofferingid``'s size,
else the template's size; a VM deployed from an ISO gets a blank disk of its old ROOT's size and keeps the ISO.
"""

from __future__ import annotations

from sqlalchemy import select

from management.compute import states, vm_lifecycle, vm_orchestrate, vms
from management.compute.models import DiskOffering, OfferingState
from management.compute.vm_models import VMInstance, Volume
from management.compute.vm_tx import step
from management.context import Caller, Context
from management.errors import InvalidParameter
from management.events import service as events
from management.guest import passwords
from management.infra.models import Zone
from management.limits import service as limits
from management.storage import templates as tmpl
from management.storage.models import Template

GIB = 1024 ** 3


def root_of(session, vm: VMInstance) -> Volume | None:
    return session.scalar(select(Volume).where(Volume.vm_id == vm.id, Volume.volume_type == "ROOT",
                                               Volume.removed.is_(None)))


def check(session, caller: Caller, vm: VMInstance, template: Template | None, disk_offering: DiskOffering | None,
          root_disk_gb: int | None) -> tuple[Template, int]:
    """The request's checks; returns the template the new disk comes from and its size in bytes."""
    vms.check_access(session, caller, vm)
    if vm.state not in (states.RUNNING, states.STOPPED):
        raise InvalidParameter(f"Unable to restore VM {vm.uuid}: it is {vm.state}; only a Running or Stopped VM can "
                               "be restored")
    vm_lifecycle.run(vm_lifecycle.BUSY_CHECKS, session, vm, "restore it")
    current = session.get(Template, vm.template_id)
    template = template or current
    if template is None or template.removed is not None or not tmpl.can_use(session, caller, template):
        raise InvalidParameter(f"Unable to use template {template.uuid if template else vm.template_id} (templateid)")
    from_iso = template.is_iso
    if from_iso and template.id != vm.template_id:
        raise InvalidParameter(f"{template.uuid} is an ISO: restore a VM from a template (templateid)")
    if not vms.template_ready_in_zone(session, template, session.get(Zone, vm.zone_id)):
        raise InvalidParameter(f"Template {template.uuid} is not ready in the zone of VM {vm.uuid} (templateid)")
    wanted = template.hypervisor if template.hypervisor not in (None, "", "Any", "None") else None
    if wanted and vm.hypervisor_type and wanted != vm.hypervisor_type:
        raise InvalidParameter(f"Template {template.uuid} is for {wanted}, VM {vm.uuid} runs on {vm.hypervisor_type} "
                               "(templateid)")
    old = root_of(session, vm)
    template_size = 0 if from_iso else int(template.size or 0)
    if root_disk_gb is not None:
        if root_disk_gb <= 0:
            raise InvalidParameter("Root disk size should be a positive number (rootdisksize)")
        size = root_disk_gb * GIB
        if size < template_size:
            raise InvalidParameter(f"Root disk size {root_disk_gb} GB is smaller than the template size "
                                   f"{template_size / GIB:.2f} GB (rootdisksize)")
    elif disk_offering is not None:
        if disk_offering.removed is not None or disk_offering.state != OfferingState.ACTIVE:
            raise InvalidParameter(f"Unable to find disk offering by id {disk_offering.uuid} (diskofferingid)")
        if disk_offering.customized:
            raise InvalidParameter("Disk offering is customized: give the size with rootdisksize")
        size = max(int(disk_offering.disk_size), template_size)
    else:
        size = template_size or (old.size if old is not None else 0)
    if size <= 0:
        raise InvalidParameter(f"Unable to restore VM {vm.uuid}: no size for its new ROOT disk (rootdisksize)")
    return template, size


def restore(ctx: Context, vm_id: int, template_id: int | None, disk_offering_id: int | None,
            root_disk_gb: int | None, expunge: bool) -> bool:
    """The job; True when the VM got a new password (the response shows it)."""
    from management.storage import cleanup

    with step(ctx) as s:
        was_running = s.get(VMInstance, vm_id, populate_existing=True).state == states.RUNNING
    if was_running:
        vm_orchestrate.stop(ctx, vm_id)
    with step(ctx) as s:
        vm = s.get(VMInstance, vm_id, populate_existing=True)
        if vm.state != states.STOPPED:
            raise InvalidParameter(f"Unable to restore VM {vm.uuid}: it is {vm.state}")
        template = s.get(Template, template_id) if template_id else None
        offering = s.get(DiskOffering, disk_offering_id) if disk_offering_id else None
        template, size = check(s, ctx.caller, vm, template, offering, root_disk_gb)
        old = root_of(s, vm)
        if old is not None:  # leaves the VM; its counts come back now, its file goes now or with the cleanup
            limits.release(s, account_id=vm.account_id, resource="volume", amount=1)
            limits.release(s, account_id=vm.account_id, resource="primary_storage", amount=old.size)
            old.vm_id, old.device_id, old.state = None, None, "Destroy"
            events.record_usage(s, "VOLUME.DELETE", account_id=vm.account_id, zone_id=vm.zone_id,
                                resource_id=old.id, resource_name=old.name, size=old.size)
            s.flush()
        limits.reserve_many(s, account_id=vm.account_id, amounts={"volume": 1, "primary_storage": size})
        vms.add_volume(s, vm, "ROOT", f"ROOT-{vm.id}", size, template_id=None if template.is_iso else template.id,
                       disk_offering_id=disk_offering_id or (old.disk_offering_id if old is not None else None),
                       device_id=0)
        vm.template_id, vm.guest_os_id = template.id, template.guest_os_id
        new_password = bool(template.password_enabled)
        vm.password = passwords.seal(vms.new_password(s)) if new_password else None
        events.record(s, ctx.caller, "VM.RESTORE", f"Restored VM {vm.instance_name} from template {template.name}",
                      resource=vm, resource_type="VirtualMachine", account_id=vm.account_id, domain_id=vm.domain_id)
        events.record_usage(s, "VM.RESTORE", account_id=vm.account_id, zone_id=vm.zone_id, resource_id=vm.id,
                            resource_name=vm.instance_name, offering_id=vm.service_offering_id,
                            template_id=template.id, resource_type=vm.hypervisor_type)
        old_id = old.id if old is not None else None
    if expunge and old_id is not None:
        cleanup.expunge_destroyed_volume(old_id)
    if was_running:
        vm_orchestrate.start(ctx, vm_id)
    return new_password
