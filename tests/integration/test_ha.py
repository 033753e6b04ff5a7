"""High availability: a VM of an ``offerha`` offering on a host that goes Down restarts on another host of
the cluster; a VM without HA is seen Stopped. The host is made to miss its pings with configureSimulator."""

from __future__ import annotations

import time
from functools import partial

from tests.conftest import unique
from tests.integration.test_vms import build_zone, web  # noqa: F401  (web is a fixture)
from tests.support import wait_until

_wait = partial(wait_until, timeout=90.0)




def test_ha_vm_restarts_elsewhere_when_its_host_goes_down(admin, tmp_path_factory, web):  # noqa: F811
    admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    admin("updateConfiguration", name="ping.interval", value="2")
    admin("updateConfiguration", name="ping.timeout", value="1.5")
    try:
        time.sleep(2.1)
        env = build_zone(admin, tmp_path_factory, web, hosts=2)
        ha = admin("createServiceOffering", name=unique("ha"), displaytext="HA", cpunumber="1", cpuspeed="500",
                   memory="256", offerha="true")["serviceoffering"]
        plain = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
        first = admin.wait_job(admin("deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=ha["id"],
                                     templateid=env["template"]["id"], name="ha-vm")["jobid"])
        vm = first["jobresult"]["virtualmachine"]
        assert vm["haenable"] is True and vm["state"] == "Running"
        doomed = vm["hostid"]
        other = admin.wait_job(admin("deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=plain["id"],
                                     templateid=env["template"]["id"], name="plain-vm",
                                     hostid=doomed)["jobid"])["jobresult"]["virtualmachine"]
        assert other["hostid"] == doomed

        admin("configureSimulator", hostid=doomed, name="Ping", value="result:fail")
        _wait(lambda: admin("listHosts", id=doomed)["host"][0]["state"] == "Down", what="the host going Down")
        moved = _wait(lambda: (v := admin("listVirtualMachines", id=vm["id"])["virtualmachine"][0])["state"]
                      == "Running" and v.get("hostid") not in (None, doomed) and v, what="the HA restart")
        assert moved["hostid"] != doomed
        assert admin("listVirtualMachines", id=other["id"])["virtualmachine"][0]["state"] == "Stopped"
        events = admin("listEvents", listall="true", type="VM.START")["event"]
        assert any("HA" in e["description"] for e in events)
    finally:
        admin("resetConfiguration", name="ping.interval")
        admin("resetConfiguration", name="ping.timeout")
