"""The contract between a host agent and the management server (pydantic v2 models only, no I/O).

An agent starts, sends a ``StartupReport`` (who it is and what the host has), then a ``PingReport``
now and then (that it is alive, and the power state of the VMs it sees). The management server
registers the host from the startup report (``management.infra.hosts.register_host``): the ``guid``
identifies the host, so an agent that comes back updates its row instead of adding a second host.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


class NicSpec(BaseModel):
    mac: str
    bridge: str | None = None  # host bridge; None: no host networking (the simulator, or test:///)
    ip: str | None = None
    device_id: int = 0


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


class VmPower(BaseModel):
    name: str
    state: PowerState


class Command(BaseModel):
    """Base of what the management server asks an agent to do; ``kind`` names the command."""

    model_config = ConfigDict(extra="forbid")
    kind: str


class StartVm(Command):
    kind: Literal["StartVm"] = "StartVm"
    vm: VmSpec


class StopVm(Command):
    kind: Literal["StopVm"] = "StopVm"
    name: str
    force: bool = False


class RebootVm(Command):
    kind: Literal["RebootVm"] = "RebootVm"
    name: str


class MigrateVm(Command):
    kind: Literal["MigrateVm"] = "MigrateVm"
    name: str
    destination_uri: str  # libvirt URI of the destination host (qemu+tcp://ip/system)
    live: bool = True


class CreateVolume(Command):
    kind: Literal["CreateVolume"] = "CreateVolume"
    path: str
    size_bytes: int = 0
    format: Literal["qcow2", "raw"] = "qcow2"
    backing: str | None = None
    backing_format: str | None = None


class DeleteVolume(Command):
    kind: Literal["DeleteVolume"] = "DeleteVolume"
    path: str


class CopyImage(Command):
    kind: Literal["CopyImage"] = "CopyImage"
    source: str
    destination: str


class GetVmStates(Command):
    kind: Literal["GetVmStates"] = "GetVmStates"


AnyCommand = StartVm | StopVm | RebootVm | MigrateVm | CreateVolume | DeleteVolume | CopyImage | GetVmStates


class Envelope(BaseModel):
    """A command on the wire: the command and an id the answer refers to."""

    request_id: str
    command: AnyCommand = Field(discriminator="kind")


class Answer(BaseModel):
    """What the agent answers: ``ok`` or not, a human-readable ``details`` (the error), and data."""

    request_id: str = ""
    ok: bool
    details: str = ""
    data: dict = {}
