"""The contract between a host agent and the management server (pydantic v2 models, no I/O of their own).

An agent starts, sends a ``StartupReport`` (who it is and what the host has), then a ``PingReport``
now and then (that it is alive, and the power state of the VMs it sees). The management server
registers the host from the startup report (``management.infra.hosts.register_host``): the ``guid``
identifies the host, so an agent that comes back updates its row instead of adding a second host.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, field_validator

PowerState = Literal["PowerOn", "PowerOff", "PowerUnknown", "PowerReportMissing"]


class StartupReport(BaseModel):
    """What an agent reports when it connects (CloudStack's StartupRoutingCommand)."""

    model_config = ConfigDict(extra="ignore")

    guid: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    hypervisor: str = Field(min_length=1, max_length=32)  # KVM | Simulator
    hypervisor_version: str | None = None
    cpus: int = Field(ge=1)
    cpu_sockets: int | None = Field(default=None, ge=1)
    cpu_speed_mhz: int = Field(ge=1)
    memory_bytes: int = Field(ge=0)
    local_storage_bytes: int = Field(default=0, ge=0)
    private_ip: str | None = None
    capabilities: list[str] = []
    agent_version: str | None = None
    zone_uuid: str | None = None
    pod_uuid: str | None = None
    cluster_uuid: str | None = None


class PingReport(BaseModel):
    """A periodic ping: the host is alive; ``vm_states`` maps VM instance names to power states."""

    model_config = ConfigDict(extra="ignore")

    guid: str = Field(min_length=1, max_length=255)
    vm_states: dict[str, PowerState] = {}


# --- commands from the management server to an agent, and the answers --------------------------------

class DiskSpec(BaseModel):
    """A disk of a VM as the hypervisor sees it: a file (qcow2/raw) or an ISO on a CD-ROM."""

    path: str
    format: Literal["qcow2", "raw", "iso"] = "qcow2"
    device: Literal["disk", "cdrom"] = "disk"
    target: str = "vda"  # vda, vdb... / hdc for the CD-ROM
    device_id: int = 0  # CloudStack's deviceid
    readonly: bool = False
    store_url: str | None = None  # nfs://host/export the path is relative to (an ISO on an NFS image store)

    def on_host(self, driver) -> DiskSpec:
        """This disk with a path the host can open (an NFS image store is mounted on first use)."""
        if not self.store_url:
            return self
        return self.model_copy(update={"path": driver.image_store_path(self.path, self.store_url), "store_url": None})


class NicSpec(BaseModel):
    mac: str
    bridge: str | None = None  # host bridge; None: no host networking (the simulator, or test:///)
    ip: str | None = None
    device_id: int = 0
    vif: str | None = None  # the host device of a bridged NIC (security groups filter on it); None: libvirt's vnetN


class VmSpec(BaseModel):
    """Everything a hypervisor needs to define and start a VM (CloudStack's VirtualMachineTO)."""

    name: str  # instance name, e.g. i-2-10-VM
    uuid: str
    vcpus: int = Field(ge=1)
    cpu_speed_mhz: int = Field(ge=1)
    memory_mb: int = Field(ge=16)
    disks: list[DiskSpec] = []
    nics: list[NicSpec] = []
    serial_log: str | None = None  # where the serial console is written, if anywhere
    limit_cpu_use: bool = False
    boot_from_cdrom: bool = False  # a VM deployed from an ISO boots from it while it is attached
    # A dynamically scalable VM is defined with room to grow while it runs (ScaleVm): at most this many vCPUs
    # and this much memory (None: fixed at vcpus / memory_mb).
    max_vcpus: int | None = Field(default=None, ge=1)
    max_memory_mb: int | None = Field(default=None, ge=16)


class VmPower(BaseModel):
    name: str
    state: PowerState


COMMANDS: dict[str, type[Command]] = {}


class Command(BaseModel):
    """Base of what the management server asks an agent to do; ``kind`` names the command.

    Every subclass registers itself under its ``kind`` (so a domain declares its agent commands in its own
    module: ``agent.protocol_storage``, ``agent.protocol_network``...) and says in ``run`` what the agent
    does with it: which driver method it calls and what data the answer carries."""

    model_config = ConfigDict(extra="forbid")
    kind: str

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        default = cls.model_fields["kind"].default
        if isinstance(default, str):
            COMMANDS[default] = cls

    def run(self, driver) -> dict:  # driver: agent.hypervisor.base.HypervisorDriver
        """Perform the command with ``driver`` on this host; returns the answer's data."""
        raise NotImplementedError(self.kind)


class StartVm(Command):
    kind: Literal["StartVm"] = "StartVm"
    vm: VmSpec

    def run(self, driver) -> dict:
        driver.start(self.vm.model_copy(update={"disks": [disk.on_host(driver) for disk in self.vm.disks]}))
        return {"name": self.vm.name, "state": driver.vm_states().get(self.vm.name, "PowerOn")}


class StopVm(Command):
    kind: Literal["StopVm"] = "StopVm"
    name: str
    force: bool = False

    def run(self, driver) -> dict:
        driver.stop(self.name, force=self.force)
        return {"name": self.name, "state": "PowerOff"}


class RebootVm(Command):
    kind: Literal["RebootVm"] = "RebootVm"
    name: str

    def run(self, driver) -> dict:
        driver.reboot(self.name)
        return {}


class ScaleVm(Command):
    """Scale a running VM up in place (vCPUs and memory hot-added, CPU weight raised), as CloudStack's
    ScaleVmCommand; the VM must have been started with room for it (VmSpec.max_vcpus / max_memory_mb)."""

    kind: Literal["ScaleVm"] = "ScaleVm"
    name: str
    vcpus: int = Field(ge=1)
    cpu_speed_mhz: int = Field(ge=1)
    memory_mb: int = Field(ge=16)

    def run(self, driver) -> dict:
        driver.scale(self.name, vcpus=self.vcpus, cpu_speed_mhz=self.cpu_speed_mhz, memory_mb=self.memory_mb)
        return {"name": self.name, "vcpus": self.vcpus, "memory_mb": self.memory_mb}


class PrepareForMigration(Command):
    """Sent to the destination of a live migration first (CloudStack's PrepareForMigrationCommand): it mounts
    the image stores the VM's CD-ROMs come from, so the incoming domain finds them at the same paths."""

    kind: Literal["PrepareForMigration"] = "PrepareForMigration"
    name: str
    disks: list[DiskSpec] = []

    def run(self, driver) -> dict:
        return {"name": self.name, "paths": [disk.on_host(driver).path for disk in self.disks]}


class MigrateVm(Command):
    kind: Literal["MigrateVm"] = "MigrateVm"
    name: str
    destination_uri: str  # libvirt URI of the destination host (qemu+tcp://ip/system)
    live: bool = True

    def run(self, driver) -> dict:
        driver.migrate(self.name, self.destination_uri, live=self.live)
        return {}


class CreateVolume(Command):
    kind: Literal["CreateVolume"] = "CreateVolume"
    path: str
    size_bytes: int = 0
    format: Literal["qcow2", "raw"] = "qcow2"
    backing: str | None = None
    backing_format: str | None = None

    def run(self, driver) -> dict:
        return {"size": driver.create_volume(self.path, self.size_bytes, self.format, self.backing,
                                             self.backing_format)}


class DeleteVolume(Command):
    kind: Literal["DeleteVolume"] = "DeleteVolume"
    path: str

    def run(self, driver) -> dict:
        driver.delete_volume(self.path)
        return {}


class CopyImage(Command):
    kind: Literal["CopyImage"] = "CopyImage"
    source: str
    destination: str
    source_store: str | None = None  # nfs://host/export of the image store ``source`` is relative to

    def run(self, driver) -> dict:
        return {"size": driver.copy_image(driver.image_store_path(self.source, self.source_store),
                                          self.destination)}


class ModifyStoragePool(Command):
    """Make a primary storage pool usable on this host (mount an NFS export at ``local_path``), or release
    it (``add=False``); the answer carries its capacity and used bytes (CloudStack's ModifyStoragePoolCommand)."""

    kind: Literal["ModifyStoragePool"] = "ModifyStoragePool"
    add: bool = True
    pool_uuid: str
    pool_type: str  # NetworkFilesystem | SharedMountPoint | Filesystem
    host: str = ""
    path: str
    local_path: str

    def run(self, driver) -> dict:
        if not self.add:
            driver.release_pool(self.pool_type, self.local_path)
            return {}
        capacity, used = driver.prepare_pool(self.pool_type, self.host, self.path, self.local_path)
        return {"capacity": capacity, "used": used}


class GetStorageStats(Command):
    kind: Literal["GetStorageStats"] = "GetStorageStats"
    local_path: str

    def run(self, driver) -> dict:
        capacity, used = driver.pool_stats(self.local_path)
        return {"capacity": capacity, "used": used}


class RemoveStalePartials(Command):
    """Storage cleanup on a pool: remove copies interrupted on any host (an agent killed mid-copy), by age."""

    kind: Literal["RemoveStalePartials"] = "RemoveStalePartials"
    local_path: str
    older_than: float = Field(ge=60)

    def run(self, driver) -> dict:
        return {"removed": driver.remove_stale_partials(self.local_path, self.older_than)}


class GetVmStates(Command):
    kind: Literal["GetVmStates"] = "GetVmStates"

    def run(self, driver) -> dict:
        return {"vm_states": driver.vm_states()}


class Envelope(BaseModel):
    """A command on the wire: the command and an id the answer refers to. The command is parsed as the
    class registered under its ``kind``; an unknown kind is refused (the answer says so)."""

    request_id: str
    command: SerializeAsAny[Command]

    @field_validator("command", mode="before")
    @classmethod
    def _by_kind(cls, value):
        if isinstance(value, Command):
            return value
        kind = value.get("kind") if isinstance(value, dict) else None
        model = COMMANDS.get(kind)
        if model is None:
            raise ValueError(f"Unsupported command {kind}")
        return model.model_validate(value)


class Answer(BaseModel):
    """What the agent answers: ``ok`` or not, a human-readable ``details`` (the error), and data."""

    request_id: str = ""
    ok: bool
    details: str = ""
    data: dict = {}


# The other domains' agent commands register themselves when imported.
from agent import protocol_guest, protocol_nat, protocol_network, protocol_snapshots, protocol_storage  # noqa: E402,F401,I001
