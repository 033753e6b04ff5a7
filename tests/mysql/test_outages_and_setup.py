"""Faults and tools that only exist with MariaDB and Redis: broker outages, separate workers, database setup."""

from __future__ import annotations

import subprocess
import time

import pymysql

from tests.support import MYSQL, Client, keys_for, make_cloud
from tests.support import wait_until as _wait


def test_redis_and_worker_outages_do_not_lose_jobs(tmp_path):
    """Jobs submitted while the worker is down, and while Redis is down, all end once things are back."""
    cloud = make_cloud(tmp_path, backend="mysql", with_worker=False)
    try:
        admin = Client(cloud.url, *keys_for(cloud.url, "admin", "password"))
        names = []
        for i in range(3):
            name = f"out{time.time_ns()}"
            names.append(admin("createAccount", username=name, password="p", email="e@x.y", firstname="a",
                               lastname="b", accounttype=0)["account"]["id"])
        queued = admin("disableAccount", id=names[0], lock="true")["jobid"]  # no worker yet: stays queued
        time.sleep(1)
        assert admin("queryAsyncJobResult", jobid=queued)["jobstatus"] == 0
        subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], check=False, capture_output=True)
        try:
            lost = admin("disableAccount", id=names[1], lock="true")["jobid"]  # broker down: row only
        finally:
            subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
                            "--save", "", "--appendonly", "no"], check=True, capture_output=True)
            _wait(lambda: subprocess.run(["redis-cli", "ping"], capture_output=True, text=True).stdout.strip()
                  == "PONG", timeout=20)
        cloud.start_worker()
        for job in (queued, lost):
            result = _wait(lambda: (r := admin("queryAsyncJobResult", jobid=job))["jobstatus"] != 0 and r)
            assert result["jobstatus"] == 1, result
        assert admin("listAccounts", id=names[1])["account"][0]["state"] == "locked"
    finally:
        cloud.close()


def test_cloud_setup_databases_is_safe_to_run_twice(tmp_path):
    from tests.support import BIN

    props = tmp_path / "db.properties"
    names = (f"cloud_s{time.time_ns() % 10**8}", f"cloud_usage_s{time.time_ns() % 10**8}")
    cmd = [str(BIN / "cloud-setup-databases"), "cloudsetup:S3tup-pw@127.0.0.1", "--deploy-as=root:",
           "--db-properties", str(props), "--cloud-db", names[0], "--usage-db", names[1]]
    try:
        for _ in range(2):
            out = subprocess.run(cmd, capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
        text = props.read_text()
        assert f"db.cloud.name={names[0]}" in text and f"db.usage.name={names[1]}" in text
        assert "db.cloud.username=cloudsetup" in text and "db.cloud.password=S3tup-pw" in text
        conn = pymysql.connect(host="127.0.0.1", user="cloudsetup", password="S3tup-pw", database=names[0])
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM account")
            assert cur.fetchone()[0] == 2  # system and admin, seeded once
            cur.execute("SELECT COUNT(*) FROM configuration")
            assert cur.fetchone()[0] > 100
            cur.execute(f"SELECT COUNT(*) FROM `{names[1]}`.cloud_usage")
            assert cur.fetchone()[0] == 0
        conn.close()
        bad = subprocess.run([str(BIN / "cloud-setup-databases"), "nonsense"], capture_output=True, text=True)
        assert bad.returncode != 0 and "cloud:PASSWORD@HOST" in bad.stderr
    finally:
        conn = pymysql.connect(**MYSQL, autocommit=True)
        with conn.cursor() as cur:
            for name in names:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()
