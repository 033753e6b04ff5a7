"""Deploying many VMs: N deploys across simulated hosts with 2 separate worker processes.

Builds a Basic zone on MariaDB + Redis (``--hosts`` Simulator hosts in clusters of 10, one simulated
primary pool per cluster, a Local image store and a template served from 127.0.0.1), then submits
``--vms`` deployVirtualMachine jobs from ``--concurrency`` client threads and waits for all of them.
Prints deploys per minute, p50/p99 job latency (submit -> seen done, polled every 0.5 s with
listAsyncJobs) and the CPU of the management server and of the workers per deploy. The baseline, in the
same run and through the same door, broker and workers, is the same number of trivial async jobs
(disableUser on one user): what the job machinery costs by itself.

    .venv/bin/python scripts/bench/vm_deploy.py [--vms 1000] [--hosts 100] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import http.server
import os
import statistics
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

QCOW2 = b"QFI\xfb" + (3).to_bytes(4, "big") + bytes(12) + (16).to_bytes(4, "big") + (1 << 30).to_bytes(8, "big")


def build(base, keys, hosts: int, tmp: Path, web: str) -> dict:
    with httpx.Client(timeout=120) as c:
        call(c, base, keys, "updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
        zone = call(c, base, keys, "createZone", name="bench", networktype="Basic", dns1="192.0.2.1",
                    internaldns1="192.0.2.2")["zone"]["id"]
        pod = call(c, base, keys, "createPod", zoneid=zone, name="p1", gateway="10.0.0.1", netmask="255.255.0.0",
                   startip="10.0.0.10", endip="10.0.0.250")["pod"]["id"]
        call(c, base, keys, "createVlanIpRange", zoneid=zone, podid=pod, forvirtualnetwork="false",
             gateway="10.0.0.1", netmask="255.255.0.0", startip="10.0.1.1", endip="10.0.40.254")
        for ci in range(max(1, hosts // 10)):
            cluster = call(c, base, keys, "addCluster", zoneid=zone, podid=pod, clustername=f"c{ci}",
                           clustertype="CloudManaged", hypervisor="Simulator")["cluster"][0]["id"]
            for hi in range(min(10, hosts - ci * 10)):
                call(c, base, keys, "addHost", zoneid=zone, podid=pod, clusterid=cluster, hypervisor="Simulator",
                     url=f"http://sim/c{ci}/h{hi}", username="root", password="x")
            call(c, base, keys, "createStoragePool", zoneid=zone, podid=pod, clusterid=cluster, name=f"pri{ci}",
                 url=f"nfs://192.0.2.10/export/c{ci}", scope="cluster", capacitybytes=str(100 << 40))
        call(c, base, keys, "addImageStore", provider="Local", url=f"file://{tmp / 'secondary'}", zoneid=zone,
             name="sec")
        call(c, base, keys, "updateZone", id=zone, allocationstate="Enabled")
        time.sleep(2.1)
        template = call(c, base, keys, "registerTemplate", name="t", displaytext="t", format="QCOW2",
                        hypervisor="Simulator", zoneid=zone, ispublic="true", url=f"{web}/t.qcow2")["template"][0]["id"]
        while not call(c, base, keys, "listTemplates", templatefilter="self", id=template)["template"][0]["isready"]:
            time.sleep(0.5)
        offering = call(c, base, keys, "listServiceOfferings", name="Small Instance")["serviceoffering"][0]["id"]
        user = call(c, base, keys, "createAccount", username="victim", password="p", email="v@x.y", firstname="v",
                    lastname="v", accounttype="0")["account"]["user"][0]["id"]
    return {"zone": zone, "template": template, "offering": offering, "user": user}


def run_jobs(base, keys, label: str, requests: list[dict], concurrency: int, pids: list[int]) -> dict:
    cpu0 = [bench.cpu_seconds(p) for p in pids]
    submitted: dict[str, float] = {}
    lock = threading.Lock()
    started = time.perf_counter()

    def submit(params: dict) -> None:
        with httpx.Client(timeout=120) as c:
            job = call(c, base, keys, params["command"], **{k: v for k, v in params.items() if k != "command"})
        with lock:
            submitted[job["jobid"]] = time.perf_counter()

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(submit, requests))
    done: dict[str, float] = {}
    failed = 0
    with httpx.Client(timeout=120) as c:
        while len(done) < len(submitted):
            page = 1
            while True:
                jobs = call(c, base, keys, "listAsyncJobs", page=str(page), pagesize="500").get("asyncjobs", [])
                now = time.perf_counter()
                for job in jobs:
                    if job["jobid"] in submitted and job["jobid"] not in done and job["jobstatus"] != 0:
                        done[job["jobid"]] = now
                        failed += job["jobstatus"] != 1
                if len(jobs) < 500:
                    break
                page += 1
            time.sleep(0.5)
    elapsed = time.perf_counter() - started
    latencies = sorted((done[j] - submitted[j]) * 1000 for j in submitted)
    cpu = [bench.cpu_seconds(p) - c0 for p, c0 in zip(pids, cpu0)]
    n = len(requests)
    return {"label": label, "n": n, "failed": failed, "per_min": n / elapsed * 60,
            "p50": statistics.median(latencies), "p99": latencies[int(0.99 * (n - 1))],
            "mgmt_cpu_ms": cpu[0] * 1000 / n, "worker_cpu_ms": sum(cpu[1:]) * 1000 / n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
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
            workers = [cloud.start_worker(), cloud.start_worker()]
            keys = bench.keys_for(cloud.url, "admin", "password")
            env = build(cloud.url, keys, args.hosts, tmp, f"http://127.0.0.1:{web.server_address[1]}")
            pids = [cloud.procs[0].pid] + [w.pid for w in workers]
            baseline = run_jobs(cloud.url, keys, "baseline: trivial async job (disableUser)",
                                [{"command": "disableUser", "id": env["user"]}] * args.vms, args.concurrency, pids)
            deploys = run_jobs(cloud.url, keys, "deployVirtualMachine",
                               [{"command": "deployVirtualMachine", "zoneid": env["zone"], "templateid": env["template"],
                                 "serviceofferingid": env["offering"], "name": f"vm{i}"} for i in range(args.vms)],
                               args.concurrency, pids)
        finally:
            web.shutdown()
            cloud.close()
    print(f"\n{args.vms} jobs, {args.hosts} simulated hosts, 2 worker processes, {args.concurrency} client threads, "
          f"{os.cpu_count()} CPUs")
    print("| Jobs | per minute | p50 ms | p99 ms | failed | mgmt CPU ms/job | workers CPU ms/job | vs baseline rate |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in (deploys, baseline):
        print(f"| {r['label']} | {r['per_min']:.0f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['failed']} | "
              f"{r['mgmt_cpu_ms']:.1f} | {r['worker_cpu_ms']:.1f} | {r['per_min'] / baseline['per_min']:.2f}x |")
    return 1 if deploys["failed"] or baseline["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
