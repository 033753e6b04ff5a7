"""Signed-request throughput and latency of the management server's API, against a bare FastAPI baseline.

Measures requests/s, p50/p99 latency (ms) and management-server CPU ms per request for:

  1. ``listAccounts`` (API-key signed GET, response=json) after creating ``--accounts`` user accounts,
  2. ``listApis`` (same),
  3. baseline: a bare FastAPI endpoint returning a small JSON doc, served by uvicorn in its own process
     with the server's uvicorn settings (log_level warning, access_log False).

Each phase runs ``--concurrency`` asyncio workers, each with its own keep-alive httpx.AsyncClient
(HTTP/1.1, one connection: ``--concurrency`` connections in all; one shared pool of that size costs about
twice the client CPU per request in httpcore), for a 2-second warm-up, then ``--seconds`` measured. Each
command's signed URL (signature v2, no expires) is computed once and reused. The load generator runs on
the same machine and competes for the CPUs; its own CPU per request is printed too, and when it is near
the server's the baseline figure is bounded by the client, not by uvicorn. Server CPU ms per request is
the steadier comparison. "rest of machine" is CPU used by everything else during the phase (the worker,
MariaDB, Redis, or anything unrelated: a busy box skews the figures). All traffic goes to 127.0.0.1.
Exits non-zero if any request fails (non-200 or transport error).

    .venv/bin/python scripts/bench/api_throughput.py [--backend sqlite|mysql] [--seconds 10] \
        [--concurrency 16] [--accounts 50]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

# httpcore 1.0.9 tries `import sniffio` for every lock it makes; anyio 4.16 no longer installs sniffio, and a
# failed import is not cached, so each try rescans sys.path (~1 ms of client CPU per request here). A None
# entry makes that import fail at once, and httpcore falls back to asyncio exactly as before.
if importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from management.api.native.signing import sign
from tests.support import free_port, keys_for, make_cloud, wait_port

WARMUP = 2.0
TICK = os.sysconf("SC_CLK_TCK")
BASELINE_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/client/api")
async def api():
    return {"listapisresponse": {"count": 1, "api": [{"name": "ping", "isasync": False}]}}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy_seconds() -> float:
    """Non-idle CPU time of the whole machine (all CPUs), from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    other_cpu: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    def cpu_ms(self, seconds: float) -> float:
        return seconds * 1000 / max(1, len(self.latencies) + len(self.errors))


async def drive(clients: list[httpx.AsyncClient], url: str, seconds: float, result: Result | None) -> float:
    """Keep one request per client in flight until ``seconds`` pass; return the wall time taken."""
    start = time.perf_counter()
    stop = start + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                reply = await client.get(url)
                ok, detail = reply.status_code == 200, f"HTTP {reply.status_code}: {reply.text[:200]}"
            except httpx.HTTPError as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            if result is not None:
                (result.latencies.append(time.perf_counter() - t0) if ok else result.errors.append(detail))

    await asyncio.gather(*(worker(client) for client in clients))
    return time.perf_counter() - start


async def measure(name: str, url: str, pid: int, args: argparse.Namespace) -> Result:
    result = Result(name)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(http1=True, http2=False, limits=limits, timeout=30) for _ in range(args.concurrency)]
    try:
        await drive(clients, url, WARMUP, None)
        server0, client0, machine0 = cpu_seconds(pid), time.process_time(), machine_busy_seconds()
        result.elapsed = await drive(clients, url, args.seconds, result)
        result.server_cpu, result.client_cpu = cpu_seconds(pid) - server0, time.process_time() - client0
        result.other_cpu = machine_busy_seconds() - machine0 - result.server_cpu - result.client_cpu
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return result


def signed_url(base: str, apikey: str, secret: str, command: str, **extra: str) -> str:
    params = {"command": command, "response": "json", "apiKey": apikey, **extra}
    params["signature"] = sign(params, secret)
    return base + "?" + urlencode(params)


def create_accounts(base: str, apikey: str, secret: str, count: int) -> None:
    with httpx.Client(timeout=30) as client:
        for i in range(count):
            url = signed_url(base, apikey, secret, "createAccount", accounttype="0", username=f"bench{i:04d}",
                             password="Bench-pass1", email=f"bench{i}@example.com", firstname="Bench",
                             lastname=f"User{i}")
            reply = client.get(url)
            if reply.status_code != 200:
                raise SystemExit(f"createAccount #{i} failed: HTTP {reply.status_code} {reply.text[:300]}")


def report(results: list[Result], args: argparse.Namespace) -> None:
    base = results[-1]
    print(f"\nbackend={args.backend} concurrency={args.concurrency} seconds={args.seconds} "
          f"(+{WARMUP:.0f}s warm-up) accounts={args.accounts} cpus={os.cpu_count()}; "
          "signing: one precomputed v2 signed URL per command (no expires), reused for every request; "
          "one keep-alive httpx.AsyncClient per worker")
    for r in results:
        ratio = "" if r is base else (f" — {r.rps / base.rps:.2f}x baseline throughput, "
                                      f"{r.pct(.5) / base.pct(.5):.1f}x baseline p50")
        errors = f", {len(r.errors)} ERRORS" if r.errors else ""
        print(f"{r.name}: {r.rps:.0f} req/s, p50 {r.pct(.5):.1f} ms, p99 {r.pct(.99):.1f} ms, "
              f"server CPU {r.cpu_ms(r.server_cpu):.2f} ms/req, "
              f"load-generator CPU {r.cpu_ms(r.client_cpu):.2f} ms/req, "
              f"rest of machine {r.other_cpu / r.elapsed:.2f} CPUs{ratio}{errors}")
        for detail in sorted(set(r.errors))[:5]:
            print(f"    error x{r.errors.count(detail)}: {detail}")
    print("\n| Endpoint | req/s | p50 ms | p99 ms | server CPU ms/req | throughput vs baseline | p50 vs baseline "
          "| errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r.name} | {r.rps:.0f} | {r.pct(.5):.1f} | {r.pct(.99):.1f} | {r.cpu_ms(r.server_cpu):.2f} | "
              f"{r.rps / base.rps:.2f}x | {r.pct(.5) / base.pct(.5):.2f}x | {len(r.errors)} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "mysql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--accounts", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cs-bench-") as tmp:
        cloud, baseline = None, None
        try:
            cloud = make_cloud(Path(tmp), backend=args.backend)
            apikey, secret = keys_for(cloud.url, "admin", "password")
            create_accounts(cloud.url, apikey, secret, args.accounts)
            port = free_port()
            log = Path(tmp) / "baseline.log"
            baseline = subprocess.Popen([sys.executable, "-c", BASELINE_APP, str(port)],
                                        stdout=log.open("w"), stderr=subprocess.STDOUT)
            wait_port(port, baseline, log)
            mgmt = cloud.procs[0].pid
            results = []
            for command in ("listAccounts", "listApis"):
                url = signed_url(cloud.url, apikey, secret, command)
                body = httpx.get(url, timeout=30)
                print(f"measuring {command} (reply {len(body.content)} bytes, count "
                      f"{next(iter(body.json().values())).get('count')}) ...", flush=True)
                results.append(asyncio.run(measure(command, url, mgmt, args)))
            print("measuring baseline ...", flush=True)
            results.append(asyncio.run(measure("baseline (bare FastAPI)", f"http://127.0.0.1:{port}/client/api",
                                               baseline.pid, args)))
            report(results, args)
            return 1 if any(r.errors for r in results) else 0
        finally:
            if baseline is not None:
                baseline.kill()
                baseline.wait()
            if cloud is not None:
                cloud.close()


if __name__ == "__main__":
    sys.exit(main())
