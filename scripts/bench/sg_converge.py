"""Security-group convergence: one rule change in a group that 200 VMs on 20 simulated hosts all reference.

Starts a real cloud (``--backend sqlite``: the embedded server; ``mysql``: MariaDB + Redis + a worker
process), builds a Basic SG zone with ``--hosts`` Simulator hosts through the API, then puts ``--vms`` Running
VMs on them, all in one group whose ingress rule names the group itself (each VM's rule set holds every
member's address) — written straight into the tables, as deploying hundreds of VMs is not what is measured
here. It waits for the initial sync, then times, from the authorize request to the moment every VM's host
has confirmed the new rule set (``security_group_work.applied_seq == seq``, polled every 20 ms):

* one ``authorizeSecurityGroupIngress`` on the shared group (all VMs affected),
* one ``revokeSecurityGroupIngress`` of that rule,
* the baseline: the same authorize on a group of ONE VM, in the same run, door, worker and hosts.

    .venv/bin/python scripts/bench/sg_converge.py [--vms 200] [--hosts 20] [--backend sqlite|mysql]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from tests.support import Client, keys_for, make_cloud  # noqa: E402


def build_zone(admin: Client, hosts: int) -> tuple[dict, list[str]]:
    zone = admin("createZone", name="sgbench", networktype="Basic", securitygroupenabled="true", dns1="192.0.2.1",
                 internaldns1="192.0.2.2")["zone"]
    pod = admin("createPod", zoneid=zone["id"], name="p1", gateway="10.50.0.1", netmask="255.255.0.0",
                startip="10.50.0.10", endip="10.50.0.250")["pod"]
    cluster = admin("addCluster", zoneid=zone["id"], podid=pod["id"], clustername="c1", clustertype="CloudManaged",
                    hypervisor="Simulator")["cluster"][0]
    made = [admin("addHost", zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], hypervisor="Simulator",
                  url=f"http://sim/sgbench/h{i}", username="root", password="x")["host"][0]["id"] for i in range(hosts)]
    return zone, made


def place_vms(engine, *, zone_uuid: str, host_uuids: list[str], account_uuid: str, group_uuid: str, count: int,
              first_ip: int) -> list[int]:
    """Running VMs with a NIC each, spread over the hosts, members of the group (rows only)."""
    from management.compute.models import ServiceOffering
    from management.compute.vm_models import Nic, VMInstance
    from management.iam.models import Account
    from management.infra.models import Host, Zone
    from management.securitygroups.models import SecurityGroup, SecurityGroupVmMap, SecurityGroupWork
    from management.storage.models import Template

    with Session(engine) as s, s.begin():
        zone = s.scalar(select(Zone).where(Zone.uuid == zone_uuid))
        hosts = [s.scalar(select(Host).where(Host.uuid == u)) for u in host_uuids]
        account = s.scalar(select(Account).where(Account.uuid == account_uuid))
        group = s.scalar(select(SecurityGroup).where(SecurityGroup.uuid == group_uuid))
        offering = s.scalar(select(ServiceOffering).where(ServiceOffering.name == "Small Instance"))
        template = s.scalar(select(Template).where(Template.name == "sgbench"))
        if template is None:  # a template row for the VM rows to refer to (never downloaded)
            template = Template(name="sgbench", format="QCOW2", account_id=account.id, domain_id=account.domain_id)
            s.add(template)
            s.flush()
        ids = []
        for i in range(count):
            host = hosts[i % len(hosts)]
            n = first_ip + i
            vm = VMInstance(name=f"sg{n}", state="Running", host_id=host.id, zone_id=zone.id, pod_id=host.pod_id,
                            service_offering_id=offering.id, template_id=template.id, account_id=account.id,
                            domain_id=account.domain_id, cpu=1, speed=100, memory=64, hypervisor_type="Simulator",
                            power_state="PowerOn")
            s.add(vm)
            s.flush()
            vm.instance_name = f"i-{account.id}-{vm.id}-VM"
            s.add(Nic(vm_id=vm.id, mac_address=f"02:5b:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}",
                      ip_address=f"10.50.{n >> 8 & 255}.{n & 255}", netmask="255.255.0.0", gateway="10.50.0.1"))
            s.add(SecurityGroupVmMap(security_group_id=group.id, vm_id=vm.id))
            s.add(SecurityGroupWork(vm_id=vm.id, seq=1, applied_seq=0, dirty=True, rules=0))
            ids.append(vm.id)
        return ids


def lagging(engine, ids: list[int], after: dict[int, int]) -> int:
    """How many of ``ids`` have not yet confirmed a sequence newer than ``after`` (or any, if absent)."""
    from management.securitygroups.models import SecurityGroupWork as W

    with engine.connect() as conn:
        rows = conn.execute(select(W.vm_id, W.seq, W.applied_seq).where(W.vm_id.in_(ids))).all()
    return sum(1 for r in rows if not (r.applied_seq == r.seq and r.seq > after.get(r.vm_id, 0)))


def seqs(engine, ids: list[int]) -> dict[int, int]:
    from management.securitygroups.models import SecurityGroupWork as W

    with engine.connect() as conn:
        return {r.vm_id: r.seq for r in conn.execute(select(W.vm_id, W.seq).where(W.vm_id.in_(ids)))}


def timed(engine, ids: list[int], action, timeout: float = 300) -> float:
    before = seqs(engine, ids)
    started = time.perf_counter()
    action()
    while lagging(engine, ids, before):
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"not converged within {timeout}s")
        time.sleep(0.02)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "mysql"), default=os.environ.get("CLOUDSTACK_TEST_BACKEND",
                                                                                         "sqlite"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cloud = make_cloud(Path(tmp), backend=args.backend)
        try:
            run(cloud, args)
        finally:
            cloud.close()


def run(cloud, args) -> None:
    from management.settings import Settings

    admin = Client(cloud.url, *keys_for(cloud.url, "admin", "password"))
    settings = Settings(data_dir=cloud.data_dir, db_properties=cloud.env.get("CLOUDSTACK_DB_PROPERTIES"))
    engine = create_engine(settings.database_url("cloud"))
    zone, hosts = build_zone(admin, args.hosts)
    account = admin("createAccount", username="sgbench", password="p", email="b@x.y", firstname="b", lastname="b",
                    accounttype="0")["account"]
    keys = admin("registerUserKeys", id=account["user"][0]["id"])["userkeys"]
    user = Client(cloud.url, keys["apikey"], keys["secretkey"])
    shared = user("createSecurityGroup", name="shared")["securitygroup"]
    single = user("createSecurityGroup", name="single")["securitygroup"]
    member = {"usersecuritygrouplist[0].account": "sgbench", "usersecuritygrouplist[0].group": "shared"}
    user.wait_job(user("authorizeSecurityGroupIngress", securitygroupid=shared["id"], protocol="tcp", startport=22,
                       endport=22, **member)["jobid"])
    many = place_vms(engine, zone_uuid=zone["id"], host_uuids=hosts, account_uuid=account["id"],
                     group_uuid=shared["id"], count=args.vms, first_ip=1 << 8)
    one = place_vms(engine, zone_uuid=zone["id"], host_uuids=hosts[:1], account_uuid=account["id"],
                    group_uuid=single["id"], count=1, first_ip=200 << 8)
    started = time.perf_counter()
    while lagging(engine, many + one, {}):  # the periodic sync takes the new rows (no change event for them)
        if time.perf_counter() - started > 300:
            raise SystemExit("initial sync did not finish")
        time.sleep(0.05)
    initial = time.perf_counter() - started

    def authorize(group: dict, port: int):
        return lambda: user.wait_job(user("authorizeSecurityGroupIngress", securitygroupid=group["id"],
                                          protocol="tcp", startport=port, endport=port, cidrlist="0.0.0.0/0")["jobid"])

    base = [timed(engine, one, authorize(single, 1000 + i)) for i in range(3)]
    change = [timed(engine, many, authorize(shared, 2000 + i)) for i in range(3)]
    rule = user("listSecurityGroups", id=shared["id"])["securitygroup"][0]["ingressrule"][-1]["ruleid"]
    revoke = timed(engine, many, lambda: user.wait_job(user("revokeSecurityGroupIngress", id=rule)["jobid"]))
    with engine.connect() as conn:
        rules = conn.execute(text("SELECT MIN(rules), MAX(rules) FROM security_group_work")).one()
        spread = conn.execute(select(func.count(func.distinct(text("host_id")))).select_from(
            text("security_group_work"))).scalar()
    engine.dispose()
    print(f"backend {args.backend}: {args.vms} VMs on {args.hosts} simulated hosts (hosts holding rules: {spread}), "
          f"every VM's rule set {rules[0]}-{rules[1]} rules")
    print(f"initial sync of {args.vms + 1} new VMs (periodic pick-up): {initial:.2f} s")
    print(f"baseline, one VM in its group, authorize -> applied: median {sorted(base)[1]:.3f} s  ({base})")
    print(f"one rule change, all {args.vms} VMs applied:          median {sorted(change)[1]:.3f} s  ({change})")
    print(f"revoke, all {args.vms} VMs applied:                    {revoke:.3f} s")
    print(f"ratio to the baseline: {sorted(change)[1] / sorted(base)[1]:.1f}x for {args.vms}x the VMs")


if __name__ == "__main__":
    main()
