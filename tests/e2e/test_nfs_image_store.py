"""End to end with an NFS image store (secondary storage), on real QEMU guests: every movement of data between
the store and the hosts goes through the store's mount points, on the management node and on the host.

This kernel has no NFS client, so the export is a directory of this machine and its "mounts" are bind mounts
the test makes where the management node (``<data dir>/mnt/secondary/<digest>``) and the agent
(``/mnt/secondary/<digest>``) mount an NFS store; both find their mount point already mounted and use it, as
they do with an export an admin mounted. What is not covered here is the ``mount -t nfs`` call itself (see
tests/unit/test_agent_pools.py). Checked: the template download lands in the export and the host's copy of it
is read from the agent's mount; a snapshot backup is written there by the host and read back into a new volume
whose data a second guest reads; a template made from a ROOT volume is written there by the host and deploys
a VM that boots; an extracted volume is written there and downloaded; an ISO on the store is inserted in a
running guest's CD-ROM from the agent's mount; deletions remove the files from the export."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from agent.hypervisor.pools import SECONDARY_ROOT, store_dir_name
from tests.agent.guest import build_guest_image, wait_for
from tests.agent.test_volume_ops import DISK_WATCH
from tests.e2e.test_config_drive import cdrom_sources
from tests.e2e.world import cs_api, domains, e2e_world, kvm_zone, register_guest, until


def _bind(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(source), str(target)], check=True, capture_output=True, text=True)


def _unbind(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True, text=True)
    try:
        target.rmdir()
    except OSError:
        pass


def _small_iso(path: Path) -> None:
    import io

    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident="TOOLS")
    data = b"tools on an NFS image store\n"
    iso.add_fp(io.BytesIO(data), len(data), "/README.TXT;1")
    iso.write(str(path))
    iso.close()


@pytest.fixture(scope="module")
def world():
    with e2e_world("cs-e2e-nfs-", lambda build: build_guest_image(build, init_snippet=DISK_WATCH)) as state:
        export = state["root"] / "export"
        export.mkdir()
        export.chmod(0o755)
        _small_iso(state["root"] / "web" / "tools.iso")
        url = f"nfs://127.0.0.1{export}"
        mounts = [state["cloud"].data_dir / "mnt" / "secondary" / store_dir_name(url),
                  Path(SECONDARY_ROOT) / store_dir_name(url)]
        for target in mounts:
            _bind(export, target)
        state.update(export=export, store_url=url, agent_mount=mounts[1])
        try:
            yield state
        finally:
            for target in mounts:
                _unbind(target)


@pytest.fixture(scope="module")
def api(world):
    return cs_api(world["cloud"])


@pytest.fixture(scope="module")
def zone(world, api):
    built = kvm_zone(world, api, name="nfssec", net="10.23.0", agents=(("kvm-nfs", "qemu:///system", "127.0.0.1"),),
                     image_store_url=world["store_url"])
    store = api.listImageStores(zoneid=built["zone"]["id"])["imagestore"][0]
    assert store["protocol"] == "nfs" and store["providername"] == "NFS"
    template = register_guest(api, world, built["zone"], name="busybox-nfs")
    built.update(template=template, store=store,
                 offering=api.listServiceOfferings(name="Small Instance")["serviceoffering"][0],
                 custom=next(o for o in api.listDiskOfferings()["diskoffering"] if o["name"] == "Custom"))
    return built


def files(world, folder: str) -> set[str]:
    root = world["export"] / folder
    return {str(p.relative_to(world["export"])) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def boot(world, api, zone, name: str, template: dict) -> tuple[dict, Path]:
    vm = api.deployVirtualMachine(serviceofferingid=zone["offering"]["id"], templateid=template["id"],
                                  zoneid=zone["zone"]["id"], name=name)["virtualmachine"]
    world["domains"].add(vm["instancename"])
    console = world["root"] / "primary" / f"{vm['instancename']}.console.log"
    wait_for(console, "GUEST-READY", timeout=240)
    return vm, console


def test_data_moves_through_the_nfs_store(world, api, zone):
    # the template was downloaded into the export by the management node, through its mount
    [template_file] = [f for f in files(world, "template") if f.endswith(".raw")]
    assert template_file.startswith("template/tmpl/")
    assert api.listImageStores(id=zone["store"]["id"])["imagestore"][0]["disksizetotal"] > 0

    vm1, console1 = boot(world, api, zone, "nfs-writer", zone["template"])  # the host copied it from its mount
    vm2, console2 = boot(world, api, zone, "nfs-reader", zone["template"])
    data = api.createVolume(name="nfsdata", zoneid=zone["zone"]["id"], diskofferingid=zone["custom"]["id"],
                            size=1)["volume"]
    mark = console1.stat().st_size
    api.attachVolume(id=data["id"], virtualmachineid=vm1["id"])
    marker = wait_for(console1, "GUEST-WROTE vdb", timeout=120, after=mark).split()[-1]
    api.detachVolume(id=data["id"])
    wait_for(console1, "GUEST-GONE vdb", timeout=120, after=mark)

    # a snapshot backup is written by the host into the export; a new volume is made from it
    snapshot = api.createSnapshot(volumeid=data["id"])["snapshot"]
    assert snapshot["state"] == "BackedUp"
    [backup] = files(world, "snapshots")
    assert backup.endswith(f"{snapshot['id']}.qcow2")
    assert subprocess.run(["qemu-img", "info", str(world["export"] / backup)], capture_output=True).returncode == 0
    copy = api.createVolume(name="nfscopy", snapshotid=snapshot["id"])["volume"]
    mark2 = console2.stat().st_size
    assert api.attachVolume(id=copy["id"], virtualmachineid=vm2["id"])["volume"]["state"] == "Ready"
    assert wait_for(console2, "GUEST-READ vdb", timeout=120, after=mark2).split()[-1] == marker

    # an ISO on the store goes into the running guest's CD-ROM from the host's mount of the export
    ostype = api.listOsTypes(description="Other Linux (64-bit)")["ostype"][0]["id"]
    iso = api.registerIso(name="nfs-tools", displaytext="tools", zoneid=zone["zone"]["id"], ostypeid=ostype,
                          url=f"{world['web']}/tools.iso", ispublic="true")["iso"][0]
    until(lambda: api.listIsos(isofilter="self", id=iso["id"])["iso"][0]["isready"], what="ISO download")
    api.attachIso(id=iso["id"], virtualmachineid=vm2["id"])
    source = cdrom_sources(vm2["instancename"])["hdc"]
    assert source and source.startswith(f"{world['agent_mount']}/template/tmpl/")
    assert Path(source).read_bytes()[32769:32774] == b"CD001"
    api.detachIso(virtualmachineid=vm2["id"])

    # an extracted volume is written into the export by the host and served by the management node
    extracted = api.extractVolume(id=data["id"], zoneid=zone["zone"]["id"], mode="HTTP_DOWNLOAD")["volume"]
    assert any(f.startswith("volumes/") and "/extract/" in f for f in files(world, "volumes"))
    body = httpx.get(extracted["url"], timeout=60).content
    assert body[:4] == b"QFI\xfb"

    # a template from the stopped writer's ROOT volume, written by the host into the export, boots a new VM
    api.stopVirtualMachine(id=vm1["id"])
    root = api.listVolumes(virtualmachineid=vm1["id"], type="ROOT")["volume"][0]
    before = files(world, "template")
    made = api.createTemplate(name="from-nfs-root", displaytext="from root", volumeid=root["id"],
                              ostypeid=ostype)["template"]
    new_files = files(world, "template") - before
    assert [f for f in new_files if f.endswith(".qcow2")] and made["isready"]
    vm3, _console3 = boot(world, api, zone, "nfs-cloned", made)
    assert vm3["state"] == "Running"

    # deletions remove the files from the export
    api.detachVolume(id=copy["id"])
    api.deleteVolume(id=copy["id"])
    api.deleteSnapshot(id=snapshot["id"])
    until(lambda: not files(world, "snapshots"), timeout=30, what="backup removed from the export")
    api.deleteVolume(id=data["id"])
    assert not files(world, "volumes")
    for vm in (vm1, vm2, vm3):
        api.destroyVirtualMachine(id=vm["id"], expunge="true")
        assert vm["instancename"] not in domains()
    api.deleteTemplate(id=made["id"])
    until(lambda: not (files(world, "template") & new_files), timeout=30, what="template removed from the export")
