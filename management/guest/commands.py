"""Guest-access commands: SSH key pairs, resetSSHKeyForVirtualMachine, attachIso/detachIso.

Importing this module also plugs the guest-access hooks into the VM lifecycle (``register``)."""

from __future__ import annotations

from sqlalchemy import select

from management.api.native.params import Param
from management.api.native.registry import (
    Command,
    ListDomainResourcesCommand,
    ListResult,
    Prepared,
    Success,
    command,
)
from management.compute import vm_lifecycle
from management.compute.vm_commands import _fresh
from management.compute.vm_models import VMInstance
from management.compute.vm_responses import VirtualMachineResponse, vm_views
from management.context import Context
from management.events import service as events
from management.guest import config_drive, isos, keypairs, vm_keys
from management.guest.models import SSHKeyPair
from management.guest.responses import (
    CreatedSSHKeyPairResponse,
    ListedSSHKeyPairResponse,
    SSHKeyPairResponse,
    keypair_views,
)
from management.iam import access
from management.iam.models import Domain
from management.pagination import page
from management.storage.models import Template

SSH = "org.apache.cloudstack.api.command.user.ssh."
VM = "VirtualMachine"


class _OwnedKeyCommand(Command):
    account = Param(description="an optional account for the ssh key. Must be used with domainId.")
    domainid = Param("uuid", entity=Domain, description="an optional domainId for the ssh key. If the account "
                                                         "parameter is used, domainId must also be used.")

    def owner(self, ctx: Context):
        return keypairs.owner_of(ctx.session, ctx.caller, self.account, self.domainid)


@command("createSSHKeyPair", response=CreatedSSHKeyPairResponse, java_class=SSH + "CreateSSHKeyPairCmd")
class CreateSSHKeyPair(_OwnedKeyCommand):
    """Create a new keypair and returns the private key"""

    name = Param(required=True, description="Name of the keypair")

    def handle(self, ctx: Context) -> CreatedSSHKeyPairResponse:
        owner = self.owner(ctx)
        row, private = keypairs.create(ctx.session, owner, self.name)
        events.record(ctx.session, ctx.caller, "REGISTER.SSH.KEYPAIR", f"Created SSH key pair {row.keypair_name}",
                      resource=row, resource_type="SSHKeyPair", account_id=owner.id, domain_id=owner.domain_id)
        return keypair_views(ctx.session, [row], CreatedSSHKeyPairResponse, privatekey=private)[0]


@command("registerSSHKeyPair", response=SSHKeyPairResponse, java_class=SSH + "RegisterSSHKeyPairCmd")
class RegisterSSHKeyPair(_OwnedKeyCommand):
    """Register a public key in a keypair under a certain name"""

    name = Param(required=True, description="Name of the keypair")
    publickey = Param(required=True, length=5120, description="Public key material of the keypair")

    def handle(self, ctx: Context) -> SSHKeyPairResponse:
        owner = self.owner(ctx)
        row = keypairs.register(ctx.session, owner, self.name, self.publickey)
        events.record(ctx.session, ctx.caller, "REGISTER.SSH.KEYPAIR", f"Registered SSH key pair "
                      f"{row.keypair_name}", resource=row, resource_type="SSHKeyPair", account_id=owner.id,
                      domain_id=owner.domain_id)
        return keypair_views(ctx.session, [row])[0]


@command("deleteSSHKeyPair", java_class=SSH + "DeleteSSHKeyPairCmd")
class DeleteSSHKeyPair(_OwnedKeyCommand):
    """Deletes a keypair by name"""

    name = Param(required=True, description="Name of the keypair")

    def handle(self, ctx: Context) -> Success:
        keypairs.delete(ctx.session, self.owner(ctx), self.name)
        return Success()


@command("listSSHKeyPairs", response=ListedSSHKeyPairResponse, list_key="sshkeypair",
         java_class=SSH + "ListSSHKeyPairsCmd")
class ListSSHKeyPairs(ListDomainResourcesCommand):
    """List registered keypairs"""

    id = Param("uuid", entity=SSHKeyPair, description="the ID of the ssh keypair")
    name = Param(description="A key pair name to look for")
    fingerprint = Param(description="A public key fingerprint to look for")

    def handle(self, ctx: Context) -> ListResult:
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall, by_id=self.id is not None)
        query = select(SSHKeyPair).where(scope.where(SSHKeyPair.account_id, SSHKeyPair.domain_id))
        if self.id is not None:
            query = query.where(SSHKeyPair.id == self.id.id)
        query = keypairs.filtered(query, name=self.name, fingerprint_=self.fingerprint, keyword=self.keyword)
        offset, limit = self.window(ctx.session)
        rows, total = page(ctx.session, query.order_by(SSHKeyPair.id), offset, limit)
        return ListResult(keypair_views(ctx.session, rows, ListedSSHKeyPairResponse), total)


@command("resetSSHKeyForVirtualMachine", response=VirtualMachineResponse, is_async=True, event="VM.RESETSSHKEY",
         instance_type=VM, java_class="org.apache.cloudstack.api.command.user.vm.ResetVMSSHKeyCmd")
class ResetSSHKeyForVirtualMachine(Command):
    """Resets the SSH Key for virtual machine. The virtual machine must be in a "Stopped" state."""

    id = Param("uuid", entity=VMInstance, required=True, description="The ID of the virtual machine")
    keypair = Param(description="name of the ssh key pair used to login to the virtual machine")
    keypairs = Param("list", description="names of the ssh key pairs to be used to login to the virtual machine")
    account = Param(description="an optional account for the ssh key. Must be used with domainId.")
    domainid = Param("uuid", entity=Domain, description="an optional domainId for the virtual machine. If the "
                                                         "account parameter is used, domainId must also be used.")

    def names(self) -> list[str]:
        return list(self.keypairs or []) + ([self.keypair] if self.keypair else [])

    def prepare(self, ctx: Context) -> Prepared:
        owner = None
        if self.account is not None or self.domainid is not None:
            owner = keypairs.owner_of(ctx.session, ctx.caller, self.account, self.domainid)
        vm_keys.check_reset(ctx.session, ctx.caller, self.id, self.names(), owner)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> VirtualMachineResponse:
        vm = _fresh(ctx, self.id.id)
        changed = vm_keys.reset(ctx, vm, self.names())
        return vm_views(ctx.session, ctx.caller, [vm], show_password=changed)[0]


@command("attachIso", response=VirtualMachineResponse, is_async=True, event="ISO.ATTACH", instance_type=VM,
         java_class="org.apache.cloudstack.api.command.user.iso.AttachIsoCmd")
class AttachIso(Command):
    """Attaches an ISO to a virtual machine."""

    id = Param("uuid", entity=Template, required=True, description="the ID of the ISO file")
    virtualmachineid = Param("uuid", entity=VMInstance, required=True, description="the ID of the virtual machine")
    forced = Param("boolean", default=False, description="If true, ejects existing ISO before attaching on VMware."
                                                         " Default: false")

    def prepare(self, ctx: Context) -> Prepared:
        isos.check_attach(ctx.session, ctx.caller, self.virtualmachineid, self.id)
        return Prepared(instance=self.virtualmachineid)

    def run(self, ctx: Context) -> VirtualMachineResponse:
        isos.attach(ctx, self.virtualmachineid.id, self.id.id)
        return vm_views(ctx.session, ctx.caller, [_fresh(ctx, self.virtualmachineid.id)])[0]


@command("detachIso", response=VirtualMachineResponse, is_async=True, event="ISO.DETACH", instance_type=VM,
         java_class="org.apache.cloudstack.api.command.user.iso.DetachIsoCmd")
class DetachIso(Command):
    """Detaches any ISO file (if any) currently attached to a virtual machine."""

    virtualmachineid = Param("uuid", entity=VMInstance, required=True, description="The ID of the virtual machine")
    forced = Param("boolean", default=False, description="If true, ejects the ISO before detaching on VMware. "
                                                         "Default: false")

    def prepare(self, ctx: Context) -> Prepared:
        isos.check_detach(ctx.session, ctx.caller, self.virtualmachineid)
        return Prepared(instance=self.virtualmachineid)

    def run(self, ctx: Context) -> VirtualMachineResponse:
        isos.detach(ctx, self.virtualmachineid.id)
        return vm_views(ctx.session, ctx.caller, [_fresh(ctx, self.virtualmachineid.id)])[0]


def register() -> None:
    vm_lifecycle.add(vm_lifecycle.DEPLOY_HOOKS, vm_keys.on_deploy)
    vm_lifecycle.add(vm_lifecycle.SPEC_HOOKS, config_drive.add_devices)
    vm_lifecycle.add(vm_lifecycle.MIGRATE_PREPARE_HOOKS, config_drive.migration_disks)
    vm_lifecycle.add(vm_lifecycle.EXPUNGE_HOOKS, config_drive.remove_drive)


register()
