"""Infrastructure at scale: 1,000 simulated hosts in 100 clusters, then listHosts and listCapacity latency.

Builds a Basic zone with one pod through the API, adds 100 Simulator clusters and 10 hosts in each
(``addHost url=http://sim/...``, timed: hosts registered per second), then measures, like
``api_throughput.py`` and against the same bare FastAPI baseline in the same run:

  * ``listHosts`` (the first page: 500 hosts, the default page size),
  * ``listHosts clusterid=<one cluster>`` (10 hosts),
  * ``listCapacity zoneid=<zone>`` (aggregates over all hosts).

    .venv/bin/python scripts/bench/infra_scale.py [--backend sqlite|mysql] [--seconds 10] [--concurrency 8]
        [--clusters 100] [--hosts-per-cluster 10]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_throughput as bench  # noqa: E402  (shares the load generator and the report)


def call(client: httpx.Client, base: str, keys: tuple[str, str], command: str, **params) -> dict:
    reply = client.get(bench.signed_url(base, *keys, command, **params))
    if reply.status_code != 200:
        raise SystemExit(f"{command} failed: HTTP {reply.status_code} {reply.text[:300]}")
    return next(iter(reply.json().values()))


def build(base: str, keys: tuple[str, str], clusters: int, per_cluster: int) -> tuple[str, str, float]:
    with httpx.Client(timeout=60) as c:
        zone = call(c, base, keys, "createZone", name="scale", networktype="Basic", dns1="192.0.2.1",
                    internaldns1="192.0.2.2")["zone"]["id"]
        pod = call(c, base, keys, "createPod", zoneid=zone, name="p1", gateway="10.0.0.1", netmask="255.255.0.0",
                   startip="10.0.0.10", endip="10.0.200.200")["pod"]["id"]
        started, first_cluster = time.perf_counter(), None
        for ci in range(clusters):
            cluster = call(c, base, keys, "addCluster", zoneid=zone, podid=pod, clustername=f"c{ci}",
                           clustertype="CloudManaged", hypervisor="Simulator")["cluster"][0]["id"]
            first_cluster = first_cluster or cluster
            for hi in range(per_cluster):
                call(c, base, keys, "addHost", zoneid=zone, podid=pod, clusterid=cluster, hypervisor="Simulator",
                     url=f"http://sim/c{ci}/h{hi}", username="root", password="x")
        elapsed = time.perf_counter() - started
    return zone, first_cluster, clusters * per_cluster / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "mysql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--hosts-per-cluster", type=int, default=10)
    args = parser.parse_args()
    args.accounts = 0
    with tempfile.TemporaryDirectory(prefix="cs-bench-") as tmp:
        cloud = baseline = None
        try:
            cloud = bench.make_cloud(Path(tmp), backend=args.backend)
            keys = bench.keys_for(cloud.url, "admin", "password")
            zone, cluster, rate = build(cloud.url, keys, args.clusters, args.hosts_per_cluster)
            print(f"registered {args.clusters * args.hosts_per_cluster} hosts in {args.clusters} clusters: "
                  f"{rate:.1f} hosts/s through addHost", flush=True)
            port = bench.free_port()
            log = Path(tmp) / "baseline.log"
            baseline = subprocess.Popen([sys.executable, "-c", bench.BASELINE_APP, str(port)],
                                        stdout=log.open("w"), stderr=subprocess.STDOUT)
            bench.wait_port(port, baseline, log)
            results = []
            for label, command, params in (("listHosts (500 of 1000)", "listHosts", {}),
                                           ("listHosts clusterid (10)", "listHosts", {"clusterid": cluster}),
                                           ("listCapacity zoneid", "listCapacity", {"zoneid": zone})):
                url = bench.signed_url(cloud.url, *keys, command, **params)
                reply = httpx.get(url, timeout=60)
                print(f"measuring {label} (reply {len(reply.content)} bytes) ...", flush=True)
                results.append(asyncio.run(bench.measure(label, url, cloud.procs[0].pid, args)))
            results.append(asyncio.run(bench.measure("baseline (bare FastAPI)", f"http://127.0.0.1:{port}/client/api",
                                                     baseline.pid, args)))
            bench.report(results, args)
            return 1 if any(r.errors for r in results) else 0
        finally:
            if baseline is not None:
                baseline.kill()
                baseline.wait()
            if cloud is not None:
                cloud.close()


if __name__ == "__main__":
    sys.exit(main())
