"""Security groups on a Simulator Basic zone: the default group, the cs and Libcloud journeys, bad input
(nothing changes), groups at deploy, in-use deletion refused, and rule propagation to the simulated hosts
(what the hosts applied is recorded per VM: sequence, digest and rule count)."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest
from cs import CloudStack
from sqlalchemy import create_engine, text

from tests.conftest import unique
from tests.integration.test_templates import Handler, qcow2_bytes  # noqa: F401  (the web fixture's handler)
from tests.integration.test_vms import build_zone, deploy, web  # noqa: F401  (web: fixture)
from tests.support import ApiError, wait_until


@pytest.fixture(scope="module")
def env(admin, tmp_path_factory, web):  # noqa: F811
    admin("updateConfiguration", name="secstorage.allowed.internal.sites", value="127.0.0.1/32")
    time.sleep(2.1)
    env = build_zone(admin, tmp_path_factory, web, hosts=2)
    env["small"] = admin("listServiceOfferings", name="Small Instance")["serviceoffering"][0]
    return env


@pytest.fixture(scope="module")
def db(cloud):
    from management.settings import Settings

    settings = Settings(data_dir=cloud.data_dir, db_properties=cloud.env.get("CLOUDSTACK_DB_PROPERTIES"))
    engine = create_engine(settings.database_url("cloud"))
    yield engine
    engine.dispose()


def work(db, vm_uuid: str) -> dict | None:
    with db.connect() as conn:
        row = conn.execute(text("SELECT w.seq, w.applied_seq, w.dirty, w.host_id, w.digest, w.rules FROM "
                                "security_group_work w JOIN vm_instance v ON v.id = w.vm_id WHERE v.uuid = :u"),
                           {"u": vm_uuid}).mappings().first()
        return dict(row) if row else None


def converged(db, vm_uuid: str, *, rules: int | None = None, after_seq: int = 0, timeout: float = 30) -> dict:
    """Wait until the VM's host applied its latest rule set (and, if given, that it has ``rules`` rules)."""
    def done():
        w = work(db, vm_uuid)
        return w if w and w["applied_seq"] == w["seq"] and w["seq"] > after_seq and w["host_id"] is not None and \
            (rules is None or w["rules"] == rules) else None
    return wait_until(done, timeout=timeout, step=0.2, what=f"rules of {vm_uuid} applied")


def cs_for(cloud, client) -> CloudStack:
    return CloudStack(endpoint=cloud.url, key=client.apikey, secret=client.secret, fetch_result=True)


def error_of(call, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_new_account_has_a_default_group_that_cannot_be_deleted(make_account):
    account, user = make_account()
    [group] = user("listSecurityGroups")["securitygroup"]
    assert group["name"] == "default" and group["account"] == account["name"] and group["virtualmachinecount"] == 0
    assert group.get("ingressrule", []) == [] and group["domainid"] == account["domainid"]
    err = error_of(user, "deleteSecurityGroup", name="default")
    assert err.status == 431 and "default" in err.body["errortext"]
    assert error_of(user, "createSecurityGroup", name="default").status == 431


def test_cs_journey_create_authorize_list_revoke_delete(cloud, make_account, admin):
    account, user = make_account()
    cs = cs_for(cloud, user)
    name = unique("web")
    group = cs.createSecurityGroup(name=name, description="web servers")["securitygroup"]
    assert group["name"] == name and group["description"] == "web servers"
    err = error_of(user, "createSecurityGroup", name=name)
    assert err.status == 431 and "already exists" in err.body["errortext"]
    result = cs.authorizeSecurityGroupIngress(securitygroupid=group["id"], protocol="TCP", startport=80, endport=81,
                                              cidrlist="10.0.0.0/8,192.168.1.0/24")["securitygroup"]
    added = result["ingressrule"]
    assert sorted(r["cidr"] for r in added) == ["10.0.0.0/8", "192.168.1.0/24"]
    assert all(r["protocol"] == "tcp" and r["startport"] == 80 and r["endport"] == 81 for r in added)
    icmp = cs.authorizeSecurityGroupIngress(securitygroupname=name, protocol="ICMP", icmptype=8, icmpcode=0,
                                            cidrlist="0.0.0.0/0")["securitygroup"]["ingressrule"][0]
    assert icmp["icmptype"] == 8 and icmp["icmpcode"] == 0 and "startport" not in icmp
    peer = cs.authorizeSecurityGroupIngress(securitygroupid=group["id"], protocol="udp", startport=53, endport=53,
                                            **{"usersecuritygrouplist[0].account": account["name"],
                                               "usersecuritygrouplist[0].group": "default"})["securitygroup"]
    [by_group] = peer["ingressrule"]
    assert by_group["securitygroupname"] == "default" and by_group["account"] == account["name"]
    eg = cs.authorizeSecurityGroupEgress(securitygroupid=group["id"], protocol="all",
                                         cidrlist="0.0.0.0/0")["securitygroup"]["egressrule"][0]
    [listed] = cs.listSecurityGroups(id=group["id"])["securitygroup"]
    assert len(listed["ingressrule"]) == 4 and [r["ruleid"] for r in listed["egressrule"]] == [eg["ruleid"]]
    assert cs.listSecurityGroups(securitygroupname=name)["securitygroup"][0]["id"] == group["id"]
    # An egress rule is not revoked as an ingress one.
    assert error_of(user, "revokeSecurityGroupIngress", id=eg["ruleid"]).status == 431
    assert cs.revokeSecurityGroupIngress(id=icmp["ruleid"])["success"] is True
    assert cs.revokeSecurityGroupEgress(id=eg["ruleid"])["success"] is True
    [listed] = cs.listSecurityGroups(id=group["id"])["securitygroup"]
    assert len(listed["ingressrule"]) == 3 and not listed.get("egressrule")
    types = {e["type"] for e in user("listEvents", pagesize=200, page=1)["event"]}
    assert {"SG.CREATE", "SG.AUTH.INGRESS", "SG.AUTH.EGRESS", "SG.REVOKE.INGRESS", "SG.REVOKE.EGRESS"} <= types
    assert cs.deleteSecurityGroup(id=group["id"])["success"] == "true"
    assert "SG.DELETE" in {e["type"] for e in user("listEvents", type="SG.DELETE")["event"]}
    assert not [g for g in cs.listSecurityGroups()["securitygroup"] if g["name"] == name]


BAD = [
    (dict(protocol="tcp", startport=22, endport=22, cidrlist="10.0.0.300/24"), "cidrlist"),
    (dict(protocol="tcp", startport=22, endport=22, cidrlist="10.0.0.0/33"), "cidrlist"),
    (dict(protocol="tcp", startport=22, endport=22, cidrlist="bogus"), "cidrlist"),
    (dict(protocol="tcp", startport=22, endport=22, cidrlist="10.0.0.0/8,10.1.0.0/16"), "overlap"),
    (dict(protocol="tcp", startport=0, endport=70000, cidrlist="0.0.0.0/0"), "endport"),
    (dict(protocol="tcp", startport=-5, endport=22, cidrlist="0.0.0.0/0"), "startport"),
    (dict(protocol="tcp", startport=90, endport=80, cidrlist="0.0.0.0/0"), "startport"),
    (dict(protocol="tcp", cidrlist="0.0.0.0/0"), "startport"),
    (dict(protocol="gre-ish", cidrlist="0.0.0.0/0"), "protocol"),
    (dict(protocol="icmp", icmptype=300, cidrlist="0.0.0.0/0"), "icmptype"),
    (dict(protocol="icmp", icmpcode=3, cidrlist="0.0.0.0/0"), "icmpcode"),
    (dict(protocol="all", startport=1, endport=2, cidrlist="0.0.0.0/0"), "startport"),
    (dict(protocol="tcp", startport=22, endport=22), "cidrlist"),
    (dict(protocol="tcp", startport=22, endport=22, **{"usersecuritygrouplist[0].account": "nobody-here",
                                                        "usersecuritygrouplist[0].group": "default"}),
     "usersecuritygrouplist"),
]


@pytest.mark.parametrize("params,named", BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_bad_rules_are_refused_and_change_nothing(make_account, params, named):
    _, user = make_account()
    [group] = user("listSecurityGroups")["securitygroup"]
    reply = user.raw("authorizeSecurityGroupIngress", securitygroupid=group["id"], **params)
    assert reply.status_code == 431, reply.text
    assert named in reply.text
    assert not user("listSecurityGroups")["securitygroup"][0].get("ingressrule")
    assert not user("listAsyncJobs").get("asyncjobs")  # refused in the request: no job was queued


def test_another_accounts_group_is_refused(make_account, env):
    _, alice = make_account()
    _, bob = make_account()
    bobs = bob("createSecurityGroup", name=unique("bobs"))["securitygroup"]
    err = error_of(alice, "authorizeSecurityGroupIngress", securitygroupid=bobs["id"], protocol="tcp", startport=1,
                   endport=2, cidrlist="0.0.0.0/0")
    assert err.status == 531
    assert error_of(alice, "deleteSecurityGroup", id=bobs["id"]).status == 531
    err = error_of(alice, "deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
                   templateid=env["template"]["id"], securitygroupids=bobs["id"])
    assert err.status == 431 and "securitygroupids" in err.body["errortext"]
    err = error_of(alice, "deployVirtualMachine", zoneid=env["zone"]["id"], serviceofferingid=env["small"]["id"],
                   templateid=env["template"]["id"], securitygroupnames="no-such-group")
    assert err.status == 431 and "securitygroupnames" in err.body["errortext"]
    assert not alice("listVirtualMachines").get("virtualmachine")
    assert not bob("listSecurityGroups", id=bobs["id"])["securitygroup"][0].get("ingressrule")


def test_rules_reach_the_hosts_and_follow_every_change(cloud, admin, make_account, env, db):
    account, user = make_account()
    web_name = unique("web")
    web_group = user("createSecurityGroup", name=web_name)["securitygroup"]
    a = deploy(user, env, securitygroupnames=web_name)
    assert "virtualmachine" in a["jobresult"], a
    a = a["jobresult"]["virtualmachine"]
    b = deploy(user, env)["jobresult"]["virtualmachine"]  # no group given: joins default
    assert a["state"] == "Running" and b["state"] == "Running"
    default = next(g for g in user("listSecurityGroups")["securitygroup"] if g["name"] == "default")
    assert default["virtualmachineids"] == [b["id"]]
    assert user("listSecurityGroups", virtualmachineid=a["id"])["securitygroup"][0]["id"] == web_group["id"]
    first = converged(db, a["id"], rules=0)
    assert converged(db, b["id"], rules=0)["host_id"] is not None

    # A rule naming the default group: a's host gets b's address within seconds.
    job = user("authorizeSecurityGroupIngress", securitygroupid=web_group["id"], protocol="tcp", startport=80,
               endport=80, **{"usersecuritygrouplist[0].account": account["name"],
                              "usersecuritygrouplist[0].group": "default"})["jobid"]
    rule = user.wait_job(job)["jobresult"]["securitygroup"]["ingressrule"][0]
    started = time.monotonic()
    second = converged(db, a["id"], rules=1, after_seq=first["seq"])
    assert time.monotonic() - started < 15 and second["digest"] != first["digest"]
    # A new VM joining default changes a's rules (one more address), not b's.
    b_before = work(db, b["id"])
    c = deploy(user, env, securitygroupids=default["id"])["jobresult"]["virtualmachine"]
    third = converged(db, a["id"], after_seq=second["seq"])
    assert third["digest"] != second["digest"] and third["rules"] == 2
    assert work(db, b["id"])["seq"] == b_before["seq"]

    # In use: the group cannot be deleted.
    err = error_of(user, "deleteSecurityGroup", id=web_group["id"])
    assert err.status == 431 and "in use" in err.body["errortext"]

    # Revoke: the rules go back; a stopped VM's rules leave its host; a start brings them back.
    user.wait_job(user("revokeSecurityGroupIngress", id=rule["ruleid"])["jobid"])
    fourth = converged(db, a["id"], rules=0, after_seq=third["seq"])
    assert fourth["digest"] == first["digest"]
    user.wait_job(user("stopVirtualMachine", id=c["id"])["jobid"])
    wait_until(lambda: (w := work(db, c["id"])) and w["host_id"] is None and not w["dirty"], timeout=30,
               what="rules of the stopped VM removed from its host")
    # updateVirtualMachine moves a stopped VM to other groups (refused while it runs).
    user("updateVirtualMachine", id=c["id"], securitygroupids=web_group["id"])
    assert [g["id"] for g in user("listSecurityGroups", virtualmachineid=c["id"])["securitygroup"]] == \
        [web_group["id"]]
    stopped = work(db, c["id"])
    user.wait_job(user("startVirtualMachine", id=c["id"])["jobid"])
    assert converged(db, c["id"], after_seq=stopped["seq"])["digest"] is not None
    err = error_of(user, "updateVirtualMachine", id=c["id"], securitygroupnames="default")
    assert err.status == 431 and "stopped" in err.body["errortext"]

    # Usage events for membership.
    for vm in (a, b, c):
        assert admin.wait_job(admin("destroyVirtualMachine", id=vm["id"], expunge="true")["jobid"])["jobstatus"] == 1
    assert user("deleteSecurityGroup", id=web_group["id"])["success"] == "true"
    with db.connect() as conn:
        types = [r[0] for r in conn.execute(text("SELECT u.type FROM usage_event u JOIN vm_instance v ON "
                                                 "v.id = u.resource_id WHERE v.uuid = :u AND u.type LIKE 'SG.%' "
                                                 "ORDER BY u.id"), {"u": a["id"]})]
    assert types == ["SG.ASSIGN", "SG.REMOVE"]


def test_libcloud_journey(cloud, make_account):
    from libcloud.compute.providers import Provider, get_driver

    _, user = make_account()
    url = urlparse(cloud.url)
    driver = get_driver(Provider.CLOUDSTACK)(key=user.apikey, secret=user.secret, host=url.hostname, port=url.port,
                                             path=url.path, secure=False)
    name = unique("lcsg")
    created = driver.ex_create_security_group(name, description="from libcloud")
    assert created["name"] == name
    assert {g["name"] for g in driver.ex_list_security_groups()} >= {"default", name}
    group = driver.ex_authorize_security_group_ingress(name, "tcp", "10.0.0.0/8", startport=22)
    assert group["ingressrule"][0]["startport"] == 22 and group["ingressrule"][0]["endport"] == 22
    icmp = driver.ex_authorize_security_group_ingress(name, "icmp", "0.0.0.0/0")
    assert icmp["ingressrule"][0]["icmptype"] == -1
    assert driver.ex_delete_security_group(name) == "true"  # Libcloud passes CloudStack's sync "success" on
    assert name not in {g["name"] for g in driver.ex_list_security_groups()}


def test_agent_host_gets_the_rules_and_again_after_an_agent_restart(cloud, admin, make_account, db, web, env,  # noqa: F811
                                                                    tmp_path):
    """A KVM host run by a real agent process (simulator driver, over the real broker): the rules travel as an
    agent command, and a restarted agent (its startup report) is sent every rule set of its VMs again."""
    from tests.agent_zone import agent_zone
    from tests.integration.test_agent_link import Agents

    agents = Agents(cloud)
    try:
        env = agent_zone(admin, agents, tmp_path, f"{web}/tiny.qcow2", name=unique("sga"), subnet=44, delays="",
                         security_groups=True, public_template=True)
        zone, cluster, template, offering = env["zone"], env["cluster"], env["template"], env["offering"]
        guid, agent = env["guid"], env["agent"]
        _, user = make_account()
        [default] = user("listSecurityGroups")["securitygroup"]
        user.wait_job(user("authorizeSecurityGroupIngress", securitygroupid=default["id"], protocol="tcp",
                           startport=22, endport=22, cidrlist="0.0.0.0/0")["jobid"])
        vm = user.wait_job(user("deployVirtualMachine", zoneid=zone["id"], templateid=template["id"],
                                serviceofferingid=offering["id"])["jobid"], timeout=120)["jobresult"]["virtualmachine"]
        assert vm["state"] == "Running"
        first = converged(db, vm["id"], rules=1)

        agent.terminate()
        agent.wait(timeout=30)
        agents.start(guid, driver="simulator", private_ip=env["private_ip"], zone=zone["id"], cluster=cluster["id"])
        again = converged(db, vm["id"], rules=1, after_seq=first["seq"], timeout=60)
        assert again["digest"] == first["digest"]  # the same rule set, sent again to the fresh agent
    finally:
        agents.close()
