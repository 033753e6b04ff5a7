"""Security groups end to end on a real QEMU guest: deployed through the API (MariaDB + Redis, a KVM agent on
qemu:///system) into a Basic SG zone whose Guest traffic names the test's own bridge (``kvmnetworklabel``), so
the guest is plugged into it; network namespaces on the same bridge probe it with real TCP. A rule authorized
through the API lets the allowed namespace in and keeps the other out; revoking it closes the port within
seconds. The bridge, namespaces, nftables tables, guest and cloud are removed at the end."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from functools import partial
from pathlib import Path

import pytest
from cs import CloudStack

from tests.agent.guest import build_guest_image
from tests.agent.test_sg_enforcement import GUEST_NET, Lab  # noqa: F401
from tests.support import BIN, keys_for, make_cloud, wait_until


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_rules_authorized_through_the_api_protect_a_real_guest():
    from agent.network import nft

    if subprocess.run(["nft", "list", "table", "inet", nft.TABLE], capture_output=True).returncode == 0:
        pytest.fail("the agent's nftables table exists already on this machine")
    lab = Lab()
    root = Path(tempfile.mkdtemp(prefix="cs-sge2e-", dir="/var/tmp"))
    root.chmod(0o755)
    cloud = web = None
    try:
        lab.up()
        guest_ip = f"{lab.net}.9"
        for sub in ("primary", "secondary", "web"):
            (root / sub).mkdir()
            (root / sub).chmod(0o755)
        shutil.move(str(build_guest_image(root / "build", extra_modules=("kernel/drivers/net/virtio_net.ko",),
                                          init_snippet=GUEST_NET.format(ip=guest_ip))), root / "web" / "guest.raw")
        web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root / "web")))
        threading.Thread(target=web.serve_forever, daemon=True).start()
        cloud = make_cloud(root / "cloud", backend="mysql")
        keys = keys_for(cloud.url, "admin", "password")
        api = CloudStack(endpoint=cloud.url, key=keys[0], secret=keys[1], fetch_result=True, job_timeout=300,
                         poll_interval=0.5, timeout=60)
        api.updateConfiguration(name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
        # Domain names of its own on the shared qemu:///system (other test clouds also start at i-2-1-VM).
        api.updateConfiguration(name="instance.name", value=f"SG{lab.tag[3:]}")
        zone = api.createZone(name="sge2e", networktype="Basic", securitygroupenabled="true", dns1="192.0.2.53",
                              internaldns1="192.0.2.54")["zone"]
        physical = api.createPhysicalNetwork(zoneid=zone["id"], name="phy")["physicalnetwork"]
        api.addTrafficType(physicalnetworkid=physical["id"], traffictype="Guest", kvmnetworklabel=lab.bridge)
        pod = api.createPod(zoneid=zone["id"], name="p1", gateway=f"{lab.net}.1", netmask="255.255.255.0",
                            startip=f"{lab.net}.200", endip=f"{lab.net}.210")["pod"]
        api.createVlanIpRange(zoneid=zone["id"], podid=pod["id"], forvirtualnetwork="false", gateway=f"{lab.net}.1",
                              netmask="255.255.255.0", startip=guest_ip, endip=guest_ip)  # the guest's one address
        cluster = api.addCluster(zoneid=zone["id"], podid=pod["id"], clustername="kvm", clustertype="CloudManaged",
                                 hypervisor="KVM")["cluster"][0]
        config = root / "agent.properties"
        config.write_text("\n".join([
            f"guid={uuid.uuid4()}", f"zone={zone['id']}", f"pod={pod['id']}", f"cluster={cluster['id']}",
            "name=kvm-sg", "private.ip=127.0.0.1", "driver=libvirt", "hypervisor.uri=qemu:///system",
            "libvirt.domain.type=qemu", f"broker.url={cloud.env['CLOUDSTACK_BROKER_URL']}",
            f"management.queue={cloud.env['CLOUDSTACK_QUEUE']}", "ping.interval=5", "workers=4"]) + "\n")
        agent = subprocess.Popen([str(BIN / "cloudstack-agent"), "--config", str(config)], env=cloud.env,
                                 stdout=(root / "agent.log").open("w"), stderr=subprocess.STDOUT)
        cloud.procs.append(agent)
        wait_until(lambda: [h for h in api.listHosts(zoneid=zone["id"]).get("host", []) if h["state"] == "Up"],
                   timeout=60, what="the KVM host Up")
        api.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], name="pri",
                              scope="cluster", url=f"SharedMountPoint://localhost{root / 'primary'}")
        api.addImageStore(provider="Local", url=f"file://{root / 'secondary'}", zoneid=zone["id"], name="sec")
        api.updateZone(id=zone["id"], allocationstate="Enabled")
        ostype = api.listOsTypes(description="Other Linux (64-bit)")["ostype"][0]["id"]
        template = api.registerTemplate(name="busybox", displaytext="busybox", format="RAW", hypervisor="KVM",
                                        zoneid=zone["id"], ostypeid=ostype, ispublic="true",
                                        url=f"http://127.0.0.1:{web.server_address[1]}/guest.raw")["template"][0]
        wait_until(lambda: api.listTemplates(templatefilter="self", id=template["id"])["template"][0]["isready"],
                   timeout=120, what="template download")
        offering = api.listServiceOfferings(name="Small Instance")["serviceoffering"][0]
        vm = api.deployVirtualMachine(zoneid=zone["id"], serviceofferingid=offering["id"],
                                      templateid=template["id"], name="sgguest")["virtualmachine"]
        assert vm["state"] == "Running" and vm["nic"][0]["ipaddress"] == guest_ip
        [default] = api.listSecurityGroups(securitygroupname="default")["securitygroup"]
        assert vm["id"] in default["virtualmachineids"]
        lab.vms["g"] = {"ip": guest_ip, "vif": None, "ns": None, "mac": vm["nic"][0]["macaddress"]}
        rule = api.authorizeSecurityGroupIngress(securitygroupid=default["id"], protocol="tcp", startport=8080,
                                                 endport=8080, cidrlist=f"{lab.vms['a']['ip']}/32"
                                                 )["securitygroup"]["ingressrule"][0]
        wait_until(lambda: lab.tcp("a", "g", 8080, timeout=2), timeout=120, step=1,
                   what="the allowed namespace reaches the guest")
        assert not lab.tcp("c", "g", 8080, timeout=2)
        api.revokeSecurityGroupIngress(id=rule["ruleid"])
        started = time.monotonic()
        wait_until(lambda: not lab.tcp("a", "g", 8080, timeout=1), timeout=30, step=0.5,
                   what="the revoked rule stops the traffic")
        assert time.monotonic() - started < 15
        api.destroyVirtualMachine(id=vm["id"], expunge="true")
    finally:
        if web is not None:
            web.shutdown()
        if cloud is not None:
            cloud.close()
        lab.vms.pop("g", None)
        lab.down()
        nft.remove_all()
        shutil.rmtree(root, ignore_errors=True)
