"""What the end-to-end tests share: a world (folders QEMU can reach, a local web server with the guest
image, a cloud on MariaDB + Redis with a separate worker), a `cs` client, KVM agents on this machine's
libvirt, and a Basic zone whose hosts they are."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import libvirt
from cs import CloudStack

from tests.support import BIN, keys_for, make_cloud, wait_until

until = partial(wait_until, timeout=120.0)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def e2e_world(prefix: str, image: Callable[[Path], Path] | None = None) -> Iterator[dict]:
    """``image(build dir)`` makes the guest image served as ``<web>/guest.raw``; the domains named in
    ``world["domains"]`` are destroyed at the end if still there."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    root.chmod(0o755)
    for sub in ("primary", "secondary", "web"):
        (root / sub).mkdir()
        (root / sub).chmod(0o755)
    if image is not None:
        shutil.move(str(image(root / "build")), root / "web" / "guest.raw")
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root / "web")))
    threading.Thread(target=web.serve_forever, daemon=True).start()
    cloud = make_cloud(root / "cloud", backend="mysql")
    state = {"root": root, "cloud": cloud, "web": f"http://127.0.0.1:{web.server_address[1]}", "domains": set()}
    try:
        yield state
    finally:
        web.shutdown()
        cloud.close()
        destroy_leftovers(state["domains"])
        shutil.rmtree(root, ignore_errors=True)


def cs_api(cloud) -> CloudStack:
    keys = keys_for(cloud.url, "admin", "password")
    return CloudStack(endpoint=cloud.url, key=keys[0], secret=keys[1], fetch_result=True, job_timeout=300,
                      poll_interval=0.5, timeout=60)


def start_kvm_agent(world: dict, zone: dict, pod: dict, *, name: str, ip: str = "127.0.0.1",
                    uri: str = "qemu:///system", cluster: dict | None = None) -> subprocess.Popen:
    """A ``cloudstack-agent`` with the libvirt driver (software emulation) for this world's cloud."""
    cloud = world["cloud"]
    lines = [f"guid={uuid.uuid4()}", f"zone={zone['id']}", f"pod={pod['id']}", f"name={name}", f"private.ip={ip}",
             "driver=libvirt", f"hypervisor.uri={uri}", "libvirt.domain.type=qemu",
             f"broker.url={cloud.env['CLOUDSTACK_BROKER_URL']}", f"management.queue={cloud.env['CLOUDSTACK_QUEUE']}",
             "ping.interval=5", "workers=4"] + ([f"cluster={cluster['id']}"] if cluster else [])
    config = world["root"] / f"{name}.properties"
    config.write_text("\n".join(lines) + "\n")
    agent = subprocess.Popen([str(BIN / "cloudstack-agent"), "--config", str(config)], env=cloud.env,
                             stdout=(world["root"] / f"{name}.log").open("w"), stderr=subprocess.STDOUT)
    cloud.procs.append(agent)
    return agent


def add_kvm_host(api: CloudStack, zone: dict, pod: dict, cluster: dict, ip: str = "127.0.0.1") -> dict | None:
    """addHost of the agent at ``ip`` (None while it has not announced itself yet)."""
    try:
        return api.addHost(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], hypervisor="KVM",
                           url=f"http://{ip}", username="root", password="unused")["host"][0]
    except Exception:
        return None


def kvm_zone(world: dict, api: CloudStack, *, name: str, net: str,
             agents: tuple[tuple[str, str, str], ...] = (("kvm-e2e", "qemu:///system", "127.0.0.1"),),
             image_store_url: str | None = None) -> dict:
    """A Basic zone on ``net`` (x.y.z: pod .10-.20, guests .100-.120) with a KVM cluster of ``agents``
    ((name, libvirt URI, private IP) each, registered by addHost), a SharedMountPoint pool and an image store
    (Local in the world's folder, or NFS at ``image_store_url``); enabled."""
    api.updateConfiguration(name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    zone = api.createZone(name=name, networktype="Basic", dns1="192.0.2.53", internaldns1="192.0.2.54")["zone"]
    pod = api.createPod(zoneid=zone["id"], name="p1", gateway=f"{net}.1", netmask="255.255.255.0",
                        startip=f"{net}.10", endip=f"{net}.20")["pod"]
    api.createVlanIpRange(zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false", gateway=f"{net}.1",
                          netmask="255.255.255.0", startip=f"{net}.100", endip=f"{net}.120")
    cluster = api.addCluster(zoneid=zone["id"], podid=pod["id"], clustername="kvm", clustertype="CloudManaged",
                             hypervisor="KVM")["cluster"][0]
    hosts = []
    for agent_name, uri, ip in agents:
        start_kvm_agent(world, zone, pod, name=agent_name, ip=ip, uri=uri)
        hosts.append(until(lambda ip=ip: add_kvm_host(api, zone, pod, cluster, ip), timeout=60,
                           what=f"agent {agent_name} registration"))
    api.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name="pri", scope="cluster",
                          url=f"SharedMountPoint://localhost{world['root'] / 'primary'}")
    if image_store_url:
        api.addImageStore(provider="NFS", url=image_store_url, zoneid=zone["id"], name="sec")
    else:
        api.addImageStore(provider="Local", url=f"file://{world['root'] / 'secondary'}", zoneid=zone["id"],
                          name="sec")
    api.updateZone(id=zone["id"], allocationstate="Enabled")
    return {"zone": zone, "pod": pod, "cluster": cluster, "hosts": hosts}


def register_guest(api: CloudStack, world: dict, zone: dict, *, name: str = "busybox", **extra) -> dict:
    """The world's guest image as a ready KVM template of the zone."""
    ostype = api.listOsTypes(description="Other Linux (64-bit)")["ostype"][0]["id"]
    template = api.registerTemplate(name=name, displaytext="busybox guest", format="RAW", hypervisor="KVM",
                                    zoneid=zone["id"], ostypeid=ostype, url=f"{world['web']}/guest.raw",
                                    ispublic="true", **extra)["template"][0]
    until(lambda: api.listTemplates(templatefilter="self", id=template["id"])["template"][0]["isready"],
          what="template download")
    return template


def destroy_leftovers(names: set[str]) -> None:
    conn = libvirt.open("qemu:///system")
    try:
        for domain in conn.listAllDomains():
            if domain.name() in names and domain.isActive():
                domain.destroy()
    finally:
        conn.close()


def domains() -> set[str]:
    conn = libvirt.open("qemu:///system")
    try:
        return {d.name() for d in conn.listAllDomains()}
    finally:
        conn.close()
