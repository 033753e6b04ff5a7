"""The agent's configuration: an ``agent.properties`` file with CloudStack's keys, plus command-line overrides.

Keys (CloudStack's names where it has them; see ``deploy/agent.properties.sample``):

==========================  ====================================================================================
``guid``                    host identity (mandatory; letters, digits, ``.``, ``_``, ``-``: a uuid). The agent
                            consumes the Celery queue ``agent.<guid>``.
``zone``, ``pod``,          where the host belongs: uuids (or numeric database ids). ``zone`` is needed for the
``cluster``                 host to register; with ``cluster`` it is attached at once, else ``addHost
                            hypervisor=KVM url=http://<private.ip>`` attaches it.
``host``                    the management server address (CloudStack's key; unused: we talk through the broker)
``name``                    host name (default: this machine's host name)
``private.ip``              the address ``addHost url=http://IP`` names (default: the primary address, or 127.0.0.1)
``driver``                  ``libvirt`` (default) or ``simulator`` (a fake KVM host: no libvirt, for tests and scale
                            runs; the management server sees a KVM host either way)
``hypervisor.uri``          libvirt URI (default ``qemu:///system``; ``test:///default`` for tests)
``hypervisor.type``         CloudStack's key: ``kvm`` (default) — the only hypervisor this agent serves
``libvirt.domain.type``     our key: domain type ``kvm``, ``qemu`` (software emulation) or ``auto`` (default: kvm
                            where libvirt offers it)
``broker.url``              the Celery broker the management servers use: ``redis://host:6379/0``, or for the
                            embedded mode the broker folder (``/path`` or ``filesystem:///path``; that is
                            ``<management data dir>/broker``)
``management.queue``        our key: the Celery queue of the management workers (default ``management``; the
                            ``CLOUDSTACK_QUEUE`` of the management servers when several clouds share a broker)
``ping.interval``           seconds between pings (default 60, as CloudStack's global setting)
``workers``                 commands run in parallel (default 5, as CloudStack)
``local.storage.path``      local primary storage (default ``/var/lib/libvirt/images``)
``storage.path``            where primary storage pools are mounted (default ``/mnt``; CloudStack's ``mount.path``
                            is accepted too)
``public.network.device``   the host device (bridge) public IPs of static NAT are added to, unless the zone's
                            Public traffic label names one (default ``cloudbr0``)
==========================  ====================================================================================
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, fields
from pathlib import Path

from management.settings import read_properties

DEFAULT_PATH = Path("/etc/cloudstack/agent/agent.properties")
GUID_RE = re.compile(r"\A[A-Za-z0-9._-]{1,200}\Z")


class ConfigError(ValueError):
    """The configuration is unusable; the message says which key and why."""


def primary_address() -> str:
    """The address this machine uses to reach the world (no packet is sent), else 127.0.0.1."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


@dataclass
class AgentConfig:
    guid: str
    zone: str | None = None
    pod: str | None = None
    cluster: str | None = None
    host: str | None = None
    name: str = ""
    private_ip: str = ""
    driver: str = "libvirt"
    hypervisor_uri: str = "qemu:///system"
    hypervisor_type: str = "kvm"
    domain_type: str = "auto"
    broker_url: str = "redis://127.0.0.1:6379/0"
    management_queue: str = "management"
    ping_interval: float = 60.0
    workers: int = 5
    local_storage_path: str = "/var/lib/libvirt/images"
    storage_path: str = "/mnt"
    simulator_delays: str = ""  # driver=simulator: "start:30,stop:1" seconds per operation (fault tests)
    public_device: str = "cloudbr0"

    @property
    def delays(self) -> dict[str, float]:
        """``simulator.delays`` as {operation: seconds}."""
        result = {}
        for item in filter(None, (part.strip() for part in self.simulator_delays.split(","))):
            operation, _, seconds = item.partition(":")
            try:
                result[operation.strip()] = float(seconds)
            except ValueError:
                raise ConfigError(f"simulator.delays={self.simulator_delays!r}: use operation:seconds,...") from None
        return result

    @property
    def queue(self) -> str:
        return f"agent.{self.guid}"

    @property
    def broker_folder(self) -> Path | None:
        """The broker folder of the embedded (file-system) broker, or None for a real broker."""
        url = self.broker_url
        if url.startswith("filesystem://"):
            return Path(url[len("filesystem://"):] or ".")
        if "://" not in url:
            return Path(url)
        return None

    def validate(self) -> AgentConfig:
        if not self.guid or not GUID_RE.match(self.guid):
            raise ConfigError(f"guid={self.guid!r}: a guid (letters, digits, '.', '_', '-') is required")
        if self.driver not in ("libvirt", "simulator"):
            raise ConfigError(f"driver={self.driver!r}: expected libvirt or simulator")
        if self.hypervisor_type.lower() != "kvm":
            raise ConfigError(f"hypervisor.type={self.hypervisor_type!r}: this agent serves kvm only")
        if self.domain_type not in ("kvm", "qemu", "auto"):
            raise ConfigError(f"libvirt.domain.type={self.domain_type!r}: expected kvm, qemu or auto")
        if self.ping_interval <= 0:
            raise ConfigError(f"ping.interval={self.ping_interval}: must be positive")
        if self.workers < 1:
            raise ConfigError(f"workers={self.workers}: must be at least 1")
        self.delays  # noqa: B018  (validates simulator.delays)
        if not re.match(r"^[A-Za-z0-9_.:@-]{1,15}$", self.public_device):
            raise ConfigError(f"public.network.device={self.public_device!r}: not a network device name")
        if not self.name:
            self.name = socket.gethostname() or self.guid
        if not self.private_ip:
            self.private_ip = primary_address()
        return self


# property key -> AgentConfig field (CloudStack's names first)
KEYS = {"guid": "guid", "zone": "zone", "pod": "pod", "cluster": "cluster", "host": "host", "name": "name",
        "private.ip": "private_ip", "driver": "driver", "hypervisor.uri": "hypervisor_uri",
        "hypervisor.type": "hypervisor_type", "libvirt.domain.type": "domain_type",
        "broker.url": "broker_url", "management.queue": "management_queue", "ping.interval": "ping_interval",
        "workers": "workers",
        "local.storage.path": "local_storage_path", "storage.path": "storage_path", "mount.path": "storage_path",
        "simulator.delays": "simulator_delays", "public.network.device": "public_device"}


def load(path: Path | None, overrides: dict[str, str] | None = None) -> AgentConfig:
    """Read ``path`` (if given; a missing file is an error), apply ``overrides`` (same keys), validate."""
    values: dict[str, str] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"{path}: no such file")
        values.update(read_properties(path))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    kwargs: dict = {}
    types = {f.name: f.type for f in fields(AgentConfig)}
    for key, value in values.items():
        attr = KEYS.get(key)
        if attr is None or value == "":
            continue
        try:
            kwargs[attr] = {"float": float, "int": int}.get(types[attr], str)(value)
        except ValueError:
            raise ConfigError(f"{key}={value!r}: not a number") from None
    if "guid" not in kwargs:
        raise ConfigError("guid is required (set it in agent.properties or with --guid)")
    global LOADED
    LOADED = AgentConfig(**kwargs).validate()
    return LOADED


LOADED: AgentConfig | None = None  # the configuration this agent process loaded (host-local defaults for drivers)
