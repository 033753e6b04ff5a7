"""While a VM job waits on a slow agent, the rest of the cloud keeps writing (on both backends).

On the embedded SQLite database there is one write lock; a VM job commits at the end of each of its steps,
so the lock is free while it waits for the agent (here a real agent process whose StartVm takes 8 s):
an account created meanwhile does not wait for the deploy."""

from __future__ import annotations

import time

from tests.agent_zone import TemplateServer, agent_zone
from tests.conftest import unique
from tests.integration.test_agent_link import Agents
from tests.support import wait_until


def test_api_writes_do_not_wait_for_a_slow_agent_call(admin, cloud, tmp_path):
    web = TemplateServer(tmp_path / "web")
    agents = Agents(cloud)
    try:
        env = agent_zone(admin, agents, tmp_path, web.url, name=unique("wz"), subnet=43, delays="start:8")
        started = admin("deployVirtualMachine", zoneid=env["zone"]["id"], templateid=env["template"]["id"],
                        serviceofferingid=env["offering"]["id"], name="slow")
        wait_until(lambda: admin("listHosts", id=env["host"]["id"])["host"][0]["cpuallocated"] not in ("0%", "0.00%"),
                   timeout=60, what="the StartVm in flight")
        began = time.monotonic()
        account = admin("createAccount", username=unique("w"), password="pw", email="w@example.com",
                        firstname="W", lastname="W", accounttype="0")["account"]
        took = time.monotonic() - began
        job = admin("queryAsyncJobResult", jobid=started["jobid"])
        assert job["jobstatus"] == 0, "the deploy ended before the write was tried"
        assert took < 4.0, f"createAccount waited {took:.1f}s for the deploy's agent call"
        assert admin.wait_job(started["jobid"], timeout=120)["jobstatus"] == 1
        assert admin("listVirtualMachines", id=started["id"])["virtualmachine"][0]["state"] == "Running"
        admin("deleteAccount", id=account["id"])
        admin("destroyVirtualMachine", id=started["id"], expunge="true")
    finally:
        agents.close()
        web.close()
