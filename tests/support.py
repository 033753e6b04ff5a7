"""Test support: real management/worker processes on loopback, and small API helpers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pymysql

from management.api.native.signing import sign

BIN = Path(sys.executable).parent
BACKEND = os.environ.get("CLOUDSTACK_TEST_BACKEND", "sqlite")
MYSQL = dict(host="127.0.0.1", port=3306, user="root", password="")
REDIS_URL = os.environ.get("CLOUDSTACK_TEST_REDIS", "redis://127.0.0.1:6379/15")


def wait_until(predicate, timeout: float = 60.0, step: float = 0.5, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"{what} not met within {timeout}s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"port {port} did not open:\n{log.read_text()[-4000:]}")


@dataclass
class Cloud:
    """One test cloud: its data dir, database settings, and the processes serving it."""

    data_dir: Path
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)
    port: int = 0
    databases: tuple[str, str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/api"

    def start_management(self, port: int | None = None, extra: list[str] = (), name: str = "management") -> int:
        port = port or free_port()
        log = self.data_dir / f"{name}-{port}.log"
        proc = subprocess.Popen([str(BIN / "cloudstack-management"), "--port", str(port), "--bind", "127.0.0.1",
                                 *extra], env=self.env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        self.procs.append(proc)
        wait_port(port, proc, log)
        return port

    def start_worker(self) -> subprocess.Popen:
        log = self.data_dir / f"worker-{len(self.procs)}.log"
        proc = subprocess.Popen([str(BIN / "cloudstack-worker"), "--concurrency", "2"], env=self.env,
                                stdout=log.open("w"), stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)

    def close(self) -> None:
        for proc in list(self.procs):
            self.stop(proc)
        if self.databases:
            conn = pymysql.connect(**MYSQL, autocommit=True)
            with conn.cursor() as cur:
                for name in self.databases:
                    cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            conn.close()


def make_cloud(tmp: Path, *, backend: str = BACKEND, with_worker: bool = True, redis_url: str = REDIS_URL) -> Cloud:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSTACK_")}
    env.update(CLOUDSTACK_DATA_DIR=str(tmp), CLOUDSTACK_JOB_STALE_SECONDS="6", CLOUDSTACK_JOB_RESEND_SECONDS="3",
               CLOUDSTACK_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    cloud = Cloud(data_dir=tmp, env=env)
    if backend == "mysql":
        suffix = uuid.uuid4().hex[:8]
        cloud.databases = (f"cloud_t{suffix}", f"cloud_usage_t{suffix}")
        props = tmp / "db.properties"
        subprocess.run([str(BIN / "cloud-setup-databases"), "cloudtest:cl0ud-Test@127.0.0.1:3306",
                        "--deploy-as=root:", "--db-properties", str(props), "--cloud-db", cloud.databases[0],
                        "--usage-db", cloud.databases[1]], check=True, env=env, capture_output=True)
        # VM instance names unique to this cloud (i-2-1-VM<suffix>): clouds of tests running side by side on one
        # machine share its libvirt, where a domain name is unique.
        conn = pymysql.connect(**MYSQL, database=cloud.databases[0], autocommit=True)
        with conn.cursor() as cur:
            cur.execute("UPDATE configuration SET value=%s WHERE name='instance.name'", (f"VM{suffix}",))
        conn.close()
        # Several test clouds share one Redis: each gets its own job queue, so no worker takes another's jobs.
        env.update(CLOUDSTACK_DB_PROPERTIES=str(props), CLOUDSTACK_BROKER_URL=redis_url,
                   CLOUDSTACK_QUEUE=f"management-{suffix}")
        cloud.port = cloud.start_management(extra=["--no-worker"])
        if with_worker:
            cloud.start_worker()
    else:
        cloud.port = cloud.start_management()
    return cloud


class ApiError(Exception):
    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body
        super().__init__(f"{status}: {body}")


@dataclass
class Client:
    """A minimal signed client for shaping requests the real clients will not send (bad input)."""

    url: str
    apikey: str
    secret: str

    def params(self, command: str, **params) -> dict[str, str]:
        p = {"command": command, "response": "json", "apiKey": self.apikey, **{k: str(v) for k, v in params.items()}}
        p["signature"] = sign(p, self.secret)
        return p

    def raw(self, command: str, method: str = "GET", **params) -> httpx.Response:
        p = self.params(command, **params)
        if method == "POST":
            return httpx.post(self.url, data=p, timeout=30)
        return httpx.get(self.url + "?" + urlencode(p), timeout=30)

    def __call__(self, command: str, **params) -> dict:
        reply = self.raw(command, **params)
        body = json.loads(reply.text)
        inner = next(iter(body.values()))
        if reply.status_code != 200:
            raise ApiError(reply.status_code, inner)
        return inner

    def wait_job(self, jobid: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self("queryAsyncJobResult", jobid=jobid)
            if result["jobstatus"] != 0:
                return result
            time.sleep(0.2)
        raise TimeoutError(f"job {jobid} still pending after {timeout}s")


def login(url: str, username: str, password: str, domain: str = "/") -> httpx.Client:
    """An httpx client holding a login session's cookies; its ``sessionkey`` attribute is set."""
    client = httpx.Client(timeout=30)
    reply = client.post(url, data={"command": "login", "username": username, "password": password,
                                   "domain": domain, "response": "json"})
    if reply.status_code != 200:
        raise ApiError(reply.status_code, reply.json())
    client.sessionkey = reply.json()["loginresponse"]["sessionkey"]
    return client


def keys_for(url: str, username: str, password: str, domain: str = "/") -> tuple[str, str]:
    session = login(url, username, password, domain)
    user_id = session.get(url, params={"command": "listUsers", "username": username, "response": "json",
                                       "sessionkey": session.sessionkey}).json()
    user_id = user_id["listusersresponse"]["user"][0]["id"]
    keys = session.get(url, params={"command": "registerUserKeys", "id": user_id, "response": "json",
                                    "sessionkey": session.sessionkey}).json()["registeruserkeysresponse"]["userkeys"]
    session.close()
    return keys["apikey"], keys["secretkey"]
