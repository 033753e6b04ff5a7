"""The SSH keys of a VM: checked and recorded at deploy (a DEPLOY hook), replaced by
resetSSHKeyForVirtualMachine (a Stopped VM; a password-enabled template also gets a new password)."""

from __future__ import annotations

from management.compute import states
from management.compute import vms as vm_service
from management.compute.vm_models import VMInstance
from management.context import Context
from management.errors import InvalidParameter
from management.events import service as events
from management.guest import keypairs, passwords
from management.iam.models import Account
from management.storage.models import Template


def on_deploy(session, caller, vm: VMInstance, req) -> None:
    """DEPLOY hook: every named key pair must be the VM owner's (431 naming keypair); the public keys are
    recorded on the VM (the config drive and getVMPassword use them)."""
    names = [n for n in (vm.keypairs or "").split(",") if n]
    if not names:
        return
    wanted, public = keypairs.keys_for_vm(session, vm.account_id, names)
    vm.keypairs, vm.ssh_public_key = ",".join(wanted), public


def check_reset(session, caller, vm: VMInstance, names: list[str], owner: Account | None) -> None:
    """The request-time checks of resetSSHKeyForVirtualMachine."""
    vm_service.check_access(session, caller, vm)
    if not [n for n in names if n and n.strip()]:
        raise InvalidParameter("'keypair' or 'keypairs' must be specified")
    if vm.state != states.STOPPED:
        raise InvalidParameter(f"Vm {vm.uuid} should be stopped to do SSH Key reset (it is {vm.state})")
    if owner is not None and owner.id != vm.account_id:
        raise InvalidParameter(f"The key pairs of account {owner.account_name} cannot be used for VM {vm.uuid} "
                               "of another account")
    keypairs.keys_for_vm(session, vm.account_id, names)


def reset(ctx: Context, vm: VMInstance, names: list[str]) -> bool:
    """New keys on a Stopped VM (and a new password for password-enabled templates); True when the
    password changed. Applied to the guest at its next start (the config drive is rebuilt)."""
    if vm.state != states.STOPPED:
        raise InvalidParameter(f"Vm {vm.uuid} should be stopped to do SSH Key reset (it is {vm.state})")
    wanted, public = keypairs.keys_for_vm(ctx.session, vm.account_id, names)
    vm.keypairs, vm.ssh_public_key = ",".join(wanted), public
    template = ctx.session.get(Template, vm.template_id)
    new_password = bool(template and template.password_enabled)
    if new_password:
        vm.password = passwords.seal(vm_service.new_password(ctx.session))
    events.record(ctx.session, ctx.caller, "VM.RESETSSHKEY", f"Reset the SSH keys of VM {vm.instance_name}",
                  resource=vm, resource_type="VirtualMachine", account_id=vm.account_id, domain_id=vm.domain_id)
    ctx.session.flush()
    return new_password
