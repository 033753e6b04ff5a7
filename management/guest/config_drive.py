"""The config drive: an ISO9660 disk labelled ``config-2`` in CloudStack's layout, readable by cloud-init's
ConfigDrive (OpenStack) source and by CloudStack's own guest scripts.

Layout (as CloudStack's ConfigDriveBuilder writes it)::

    openstack/latest/meta_data.json    availability_zone, hostname, uuid, name, keys[], public_keys{}
    openstack/latest/user_data         the decoded user data (when there is some)
    openstack/latest/vendor_data.json  {}
    openstack/latest/network_data.json links / networks / services (DNS) of the VM's NICs
    cloudstack/userdata/user_data.txt  the decoded user data
    cloudstack/metadata/<name>.txt     service-offering, availability-zone, local-hostname, local-ipv4,
                                       public-ipv4, public-hostname, instance-id, vm-id, public-keys,
                                       cloud-identifier
    cloudstack/password/vm_password.txt  the VM's password (password-enabled templates)

The management server builds the file map; the agent of the host the VM starts on writes the ISO next to
the VM's root volume (``<pool>/configdrive-<instance>.iso``) just before the start (a SPEC hook), so a
change of keys, user data or password reaches the guest at its next start. The drive is the CD-ROM
``hdd``; ``hdc`` is the ISO drive (attachIso), always present, empty when no ISO is attached, so media
can be changed on a running VM. The drive is deleted when the VM is expunged.

A VM gets a config drive only when there is something to deliver (user data, an SSH key or a password).
"""

from __future__ import annotations

import base64
import json
import logging

from sqlalchemy import select

from agent.protocol import DiskSpec
from agent.protocol_guest import CreateConfigDrive, DeleteConfigDrive
from management.compute.models import ServiceOffering
from management.compute.vm_models import Nic, VMInstance, Volume
from management.config import service as config
from management.guest import passwords
from management.infra.models import Host, Zone
from management.storage.models import StoragePool, Template

log = logging.getLogger(__name__)
ISO_TARGET, DRIVE_TARGET = "hdc", "hdd"
ISO_DEVICE_ID, DRIVE_DEVICE_ID = 3, 4
DEFAULT_MTU = 1500


def _metadata(session, vm: VMInstance, nic: Nic | None) -> list[tuple[str, str]]:
    zone = session.get(Zone, vm.zone_id)
    offering = session.get(ServiceOffering, vm.service_offering_id)
    ip = nic.ip_address if nic else None
    identifier = config.get_value(session, "cloud.identifier")
    return [
        ("service-offering", (offering.display_text or offering.name) if offering else ""),
        ("availability-zone", zone.name if zone else ""),
        ("local-hostname", vm.name),
        ("local-ipv4", ip or ""),
        ("public-ipv4", ip or ""),  # a Basic zone: the guest address is the public one
        ("public-hostname", vm.name),
        ("instance-id", vm.uuid),
        ("vm-id", vm.uuid),
        ("public-keys", vm.ssh_public_key or ""),
        ("cloud-identifier", f"CloudStack-{{{identifier}}}" if identifier else ""),
    ]


OPENSTACK_NAMES = {"availability-zone": "availability_zone", "local-hostname": "hostname", "vm-id": "uuid",
                   "public-hostname": "name"}


def _meta_data_json(items: list[tuple[str, str]]) -> dict:
    meta: dict = {}
    for name, content in items:
        if not content:
            continue
        if name == "public-keys":
            first = content.splitlines()[0].split(" ")
            key_name = first[2] if len(first) > 3 and first[2] else "key"
            meta["keys"] = [{"type": "ssh", "data": content.replace("\n", ""), "name": key_name}]
            meta["public_keys"] = {key_name: content}
        elif name in OPENSTACK_NAMES:
            meta[OPENSTACK_NAMES[name]] = content
    return meta


def _network_data(session, vm: VMInstance, nics: list[Nic]) -> dict:
    zone = session.get(Zone, vm.zone_id)
    links, networks, services = [], [], []
    for nic in nics:
        if nic.mac_address:
            links.append({"ethernet_mac_address": nic.mac_address, "id": f"eth{nic.device_id}",
                          "mtu": DEFAULT_MTU, "type": "phy"})
        if nic.ip_address:
            networks.append({"id": f"eth{nic.device_id}", "ip_address": nic.ip_address,
                             "link": f"eth{nic.device_id}", "netmask": nic.netmask, "network_id": nic.uuid,
                             "type": "ipv4", "routes": [{"gateway": nic.gateway, "netmask": "0.0.0.0",
                                                         "network": "0.0.0.0"}]})
    for dns in ((zone.dns1, zone.dns2) if zone else ()):
        if dns:
            services.append({"address": dns, "type": "dns"})
    data: dict = {}
    for key, value in (("links", links), ("networks", networks), ("services", services)):
        if value:
            data[key] = value
    return data


def needs_drive(vm: VMInstance) -> bool:
    return bool(vm.user_data or vm.ssh_public_key or vm.password)


def layout(items: list[tuple[str, str]], network_data: dict, user_data: bytes | None,
           password: str | None) -> dict[str, bytes]:
    """The config drive's files (ISO path -> bytes) from the metadata items (CloudStack's vmData
    ``metadata`` entries, in order), the network data, the decoded user data and the password."""
    files: dict[str, bytes] = {
        "openstack/latest/vendor_data.json": b"{}",
        "openstack/latest/network_data.json": json.dumps(network_data).encode(),
        "openstack/latest/meta_data.json": json.dumps(_meta_data_json(items)).encode(),
    }
    for name, content in items:
        if content:
            files[f"cloudstack/metadata/{name}.txt"] = content.encode()
    if user_data:
        files["cloudstack/userdata/user_data.txt"] = user_data
        files["openstack/latest/user_data"] = user_data
    if password:
        files["cloudstack/password/vm_password.txt"] = password.encode()
    return files


def files_for(session, vm: VMInstance) -> dict[str, bytes]:
    """The config drive's content for ``vm``: ISO path -> bytes."""
    nics = list(session.scalars(select(Nic).where(Nic.vm_id == vm.id, Nic.removed.is_(None))
                                .order_by(Nic.device_id)))
    default = next((n for n in nics if n.is_default), nics[0] if nics else None)
    return layout(_metadata(session, vm, default), _network_data(session, vm, nics),
                  base64.b64decode(vm.user_data) if vm.user_data else None, passwords.reveal(vm.password))


def drive_path(session, vm: VMInstance) -> str | None:
    root = session.scalar(select(Volume).where(Volume.vm_id == vm.id, Volume.volume_type == "ROOT",
                                               Volume.removed.is_(None)).order_by(Volume.id).limit(1))
    pool = session.get(StoragePool, root.pool_id) if root is not None and root.pool_id else None
    if pool is None:
        return None
    return f"{_pool_dir(pool)}/configdrive-{vm.instance_name}.iso"


def label(session) -> str:
    return config.get_value(session, "vm.configdrive.label") or "config-2"


def iso_source(session, iso: Template, zone_id: int) -> tuple[str, str | None] | None:
    """Where a host reads ``iso`` from: (path, NFS store URL the path is relative to or None) of its copy on
    an image store of the zone, a Local store first (None when the zone has no ready copy)."""
    from management.storage import secondary
    from management.storage.models import DownloadState, ImageStore, TemplateStoreRef

    rows = session.execute(select(TemplateStoreRef, ImageStore)
                           .join(ImageStore, ImageStore.id == TemplateStoreRef.store_id)
                           .where(TemplateStoreRef.template_id == iso.id, TemplateStoreRef.zone_id == zone_id,
                                  TemplateStoreRef.download_state == DownloadState.DOWNLOADED,
                                  ImageStore.removed.is_(None)).order_by(TemplateStoreRef.id)).all()
    for ref, store in sorted(rows, key=lambda row: not secondary.is_local(row[1])):
        return secondary.agent_source(store, ref.install_path or "")
    return None


def iso_path(session, vm: VMInstance) -> tuple[str, str | None]:
    """Where the attached ISO is read from (path, NFS store URL or None); ('', None) for an empty drive."""
    iso = session.get(Template, vm.iso_id) if vm.iso_id is not None else None
    source = iso_source(session, iso, vm.zone_id) if iso is not None else None
    if iso is not None and source is None:
        log.warning("ISO %s of VM %s is on no image store of its zone: the CD-ROM stays empty", iso.uuid,
                    vm.instance_name)
    return source or ("", None)


def _pool_dir(pool: StoragePool) -> str:
    """The pool's directory on a host (its mount point for NFS pools)."""
    from management.storage.pool_hosts import local_path

    return local_path(pool).rstrip("/")


def migration_disks(session, vm: VMInstance, _target: Host) -> list[DiskSpec]:
    """MIGRATE_PREPARE hook: an ISO on an NFS image store must be mounted on the destination too (the config
    drive is on the VM's pool, which the destination reaches already)."""
    iso, store_url = iso_path(session, vm)
    if not iso or not store_url:
        return []
    return [DiskSpec(path=iso, store_url=store_url, format="iso", device="cdrom", target=ISO_TARGET,
                     device_id=ISO_DEVICE_ID, readonly=True)]


def add_devices(session, vm: VMInstance, spec, host: Host | None) -> None:
    """SPEC hook: the ISO CD-ROM (hdc) always; the config drive (hdd) when there is something to deliver,
    written on ``host`` first."""
    from management.compute.vm_orchestrate import AgentFailure
    from management.compute.vm_tx import agent_call

    iso, store_url = iso_path(session, vm)
    spec.disks.append(DiskSpec(path=iso, store_url=store_url if iso else None, format="iso", device="cdrom",
                               target=ISO_TARGET, device_id=ISO_DEVICE_ID, readonly=True))
    if host is None or not needs_drive(vm):
        return
    path = drive_path(session, vm)
    if path is None:
        return
    files = {name: base64.b64encode(data).decode() for name, data in files_for(session, vm).items()}
    try:
        answer = agent_call(host, CreateConfigDrive(path=path, label=label(session), files=files))
    except Exception as error:
        raise AgentFailure(f"Unable to create the config drive of VM {vm.instance_name} on host {host.name}: "
                           f"{error}") from error
    if not answer.ok:
        raise AgentFailure(f"Unable to create the config drive of VM {vm.instance_name} on host {host.name}: "
                           f"{answer.details}")
    spec.disks.append(DiskSpec(path=path, format="iso", device="cdrom", target=DRIVE_TARGET,
                               device_id=DRIVE_DEVICE_ID, readonly=True))


def _host_reaching(session, pool: StoragePool, vm: VMInstance) -> Host | None:
    """An Up host that reaches ``pool`` (the VM's last host first)."""
    from management.storage.pool_hosts import reaching

    return next(iter(reaching(session, pool, prefer=vm.last_host_id)), None)


def remove_drive(session, vm: VMInstance) -> None:
    """EXPUNGE hook: delete the config drive file (a failure is logged, the expunge goes on)."""
    from management.compute.vm_tx import agent_call

    root = session.scalar(select(Volume).where(Volume.vm_id == vm.id, Volume.volume_type == "ROOT")
                          .order_by(Volume.id).limit(1))
    pool_id = (root.pool_id or root.last_pool_id) if root is not None else None
    pool = session.get(StoragePool, pool_id) if pool_id else None
    if pool is None:
        return
    host = _host_reaching(session, pool, vm)
    if host is None:
        return
    path = f"{_pool_dir(pool)}/configdrive-{vm.instance_name}.iso"
    try:
        answer = agent_call(host, DeleteConfigDrive(path=path), timeout=60)
        if not answer.ok:
            log.warning("could not delete the config drive %s: %s", path, answer.details)
    except Exception:
        log.warning("could not delete the config drive %s", path, exc_info=True)
