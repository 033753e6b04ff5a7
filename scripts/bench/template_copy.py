"""First use of a template on a pool: N concurrent deploys from one 1 GiB template copy it once.

Builds a Basic zone on MariaDB + Redis with 2 worker processes (``--hosts`` Simulator hosts in one cluster,
one simulated primary pool, a Local image store) and registers a template whose image says 1 GiB of
virtual size. Simulated hosts copy nothing, so the copy of the template onto the pool (``CopyImage``) is
given a delay proportional to the template's size with ``configureSimulator`` (``--copy-mbps``, default
200 MiB/s: 5.1 s for 1 GiB); the same mock counts how many copies were really made.

Phase 1 (cold): ``--vms`` deploys submitted at once from ``--concurrency`` client threads while the
template is not on the pool yet. Phase 2 (pre-copied): the same number again, the template now on the pool.
Prints, per phase, the time from the first submission to the first VM Running (its job done), to the last
one, the failures, and the number of CopyImage calls; and the first-boot ratio cold / pre-copied.

    .venv/bin/python scripts/bench/template_copy.py [--vms 100] [--hosts 10] [--concurrency 16] [--copy-mbps 200]
"""

from __future__ import annotations

import argparse
import http.server
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_throughput as bench  # noqa: E402
from infra_scale import call  # noqa: E402

GIB = 1 << 30
QCOW2 = b"QFI\xfb" + (3).to_bytes(4, "big") + bytes(12) + (16).to_bytes(4, "big") + GIB.to_bytes(8, "big")
MOCK_COUNT = 100000


def build(base, keys, hosts: int, tmp: Path, web: str) -> dict:
    with httpx.Client(timeout=120) as c:
        call(c, base, keys, "updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
        zone = call(c, base, keys, "createZone", name="tcopy", networktype="Basic", dns1="192.0.2.1",
                    internaldns1="192.0.2.2")["zone"]["id"]
        pod = call(c, base, keys, "createPod", zoneid=zone, name="p1", gateway="10.0.0.1", netmask="255.255.0.0",
                   startip="10.0.0.10", endip="10.0.0.250")["pod"]["id"]
        call(c, base, keys, "createVlanIpRange", zoneid=zone, podid=pod, forvirtualnetwork="false",
             gateway="10.0.0.1", netmask="255.255.0.0", startip="10.0.1.1", endip="10.0.4.254")
        cluster = call(c, base, keys, "addCluster", zoneid=zone, podid=pod, clustername="c1",
                       clustertype="CloudManaged", hypervisor="Simulator")["cluster"][0]["id"]
        for hi in range(hosts):
            call(c, base, keys, "addHost", zoneid=zone, podid=pod, clusterid=cluster, hypervisor="Simulator",
                 url=f"http://sim/tc/h{hi}?cpus=32&cpu_speed=2000&memory_gb=64", username="root", password="x")
        pool = call(c, base, keys, "createStoragePool", zoneid=zone, podid=pod, clusterid=cluster, name="pri",
                    url="nfs://192.0.2.10/export/tc", scope="cluster", capacitybytes=str(400 << 40))["storagepool"]
        call(c, base, keys, "addImageStore", provider="Local", url=f"file://{tmp / 'secondary'}", zoneid=zone,
             name="sec")
        call(c, base, keys, "updateZone", id=zone, allocationstate="Enabled")
        time.sleep(2.1)
        template = call(c, base, keys, "registerTemplate", name="one-gib", displaytext="1 GiB", format="QCOW2",
                        hypervisor="Simulator", zoneid=zone, ispublic="true", url=f"{web}/t.qcow2")["template"][0]
        while not (row := call(c, base, keys, "listTemplates", templatefilter="self",
                               id=template["id"])["template"][0])["isready"]:
            time.sleep(0.5)
        offering = call(c, base, keys, "listServiceOfferings", name="Small Instance")["serviceoffering"][0]["id"]
    return {"zone": zone, "template": template["id"], "size": row["size"], "offering": offering, "pool": pool["id"]}


def deploy_all(base, keys, env: dict, n: int, concurrency: int, tag: str) -> dict:
    submitted: dict[str, float] = {}
    lock = threading.Lock()
    started = time.perf_counter()

    def submit(i: int) -> None:
        with httpx.Client(timeout=120) as c:
            job = call(c, base, keys, "deployVirtualMachine", zoneid=env["zone"], templateid=env["template"],
                       serviceofferingid=env["offering"], name=f"{tag}{i}")
        with lock:
            submitted[job["jobid"]] = time.perf_counter()

    done: dict[str, float] = {}
    failed = [0]
    finished = threading.Event()

    def poll() -> None:  # from the first submission on, so the first Running is seen when it happens
        with httpx.Client(timeout=120) as c:
            while not (finished.is_set() and len(done) >= len(submitted)):
                page = 1
                while True:
                    jobs = call(c, base, keys, "listAsyncJobs", page=str(page), pagesize="500").get("asyncjobs", [])
                    now = time.perf_counter()
                    with lock:
                        for job in jobs:
                            if job["jobid"] in submitted and job["jobid"] not in done and job["jobstatus"] != 0:
                                done[job["jobid"]] = now
                                failed[0] += job["jobstatus"] != 1
                    if len(jobs) < 500:
                        break
                    page += 1
                time.sleep(0.25)

    poller = threading.Thread(target=poll)
    poller.start()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(submit, range(n)))
    submitted_at = time.perf_counter() - started
    finished.set()
    poller.join()
    ends = sorted(done.values())
    return {"first": ends[0] - started, "last": ends[-1] - started, "failed": failed[0], "n": n,
            "submitted": submitted_at}


def copies_made(base, keys, mock_id: str) -> int:
    with httpx.Client(timeout=60) as c:
        left = call(c, base, keys, "querySimulatorMock", id=mock_id)["mock"]["count"]
    return MOCK_COUNT - int(left)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vms", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--copy-mbps", type=float, default=200.0, help="simulated copy speed, MiB/s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cs-bench-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "web").mkdir()
        (tmp / "web" / "t.qcow2").write_bytes(QCOW2 + os.urandom(1 << 20))
        web = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                              partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp / "web")))
        web.RequestHandlerClass.log_message = lambda *a: None
        threading.Thread(target=web.serve_forever, daemon=True).start()
        cloud = bench.make_cloud(tmp / "cloud", backend="mysql", with_worker=False)
        try:
            cloud.start_worker()
            cloud.start_worker()
            keys = bench.keys_for(cloud.url, "admin", "password")
            env = build(cloud.url, keys, args.hosts, tmp, f"http://127.0.0.1:{web.server_address[1]}")
            copy_ms = int(env["size"] / (args.copy_mbps * 1024 * 1024) * 1000)
            with httpx.Client(timeout=60) as c:
                mock = call(c, cloud.url, keys, "configureSimulator", zoneid=env["zone"], name="CopyImage",
                            value=f"wait:{copy_ms};result:success", count=str(MOCK_COUNT))["mock"]["id"]
            cold = deploy_all(cloud.url, keys, env, args.vms, args.concurrency, "cold")
            cold_copies = copies_made(cloud.url, keys, mock)
            warm = deploy_all(cloud.url, keys, env, args.vms, args.concurrency, "warm")
            warm_copies = copies_made(cloud.url, keys, mock) - cold_copies
        finally:
            web.shutdown()
            cloud.close()
    print(f"\n{args.vms} concurrent deploys per phase of one template of {env['size'] / GIB:.2f} GiB onto one pool; "
          f"{args.hosts} simulated hosts, 2 worker processes (2 job slots each), {args.concurrency} client threads, "
          f"simulated copy {copy_ms} ms ({args.copy_mbps:g} MiB/s), {os.cpu_count()} CPUs")
    print("| Phase | template copies | all submitted s | first Running s | all Running s | failed |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, r, copies in (("cold (template not on the pool)", cold, cold_copies),
                             ("pre-copied", warm, warm_copies)):
        print(f"| {label} | {copies} | {r['submitted']:.2f} | {r['first']:.2f} | {r['last']:.2f} | {r['failed']} |")
    print(f"first-boot ratio cold / pre-copied: {cold['first'] / warm['first']:.2f}x; "
          f"all-done ratio: {cold['last'] / warm['last']:.2f}x")
    return 1 if cold["failed"] or warm["failed"] or cold_copies != 1 or warm_copies != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
