"""management.limits.service on a fresh SQLite database: effective limits, reservations, recounts."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

import management.models  # noqa: F401  (every table)
from management.config import service as config
from management.db import Base, make_engine
from management.errors import InvalidParameter, ResourceAllocation
from management.iam.models import Account, AccountType, Domain
from management.limits import service as limits
from management.limits.models import ResourceLimit
from management.seed import seed


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'cloud.db'}")
    Base.metadata.create_all(engine)
    config.clear_cache()
    with Session(engine) as s, s.begin():
        seed(s)
    with Session(engine) as s:
        s.begin()
        yield s
        s.rollback()
    engine.dispose()


def _domain(session, name: str, parent: Domain) -> Domain:
    domain = Domain(name=name, parent=parent.id, path=f"{parent.path}{name}/", level=parent.level + 1)
    session.add(domain)
    session.flush()
    return domain


def _account(session, name: str, domain: Domain, account_type: int = AccountType.NORMAL) -> Account:
    account = Account(account_name=name, type=account_type, role_id=4, domain_id=domain.id)
    session.add(account)
    session.flush()
    return account


def test_resource_type_parsing():
    assert limits.resource_type(0).name == "user_vm" and limits.resource_type("11").name == "secondary_storage"
    assert limits.resource_type("CPU").number == 8
    with pytest.raises(InvalidParameter, match="resourcetype"):
        limits.resource_type(12)


def test_effective_limits(session):
    root = session.get(Domain, 1)
    dom = _domain(session, "d", root)
    sub = _domain(session, "s", dom)
    user = _account(session, "u", sub)
    assert limits.account_limit(session, user, "user_vm") == 20  # max.account.user.vms
    assert limits.account_limit(session, user, "primary_storage") == 200 * limits.GIB
    assert limits.account_limit(session, session.get(Account, 2), "cpu") == limits.UNLIMITED  # root admin
    project = _account(session, "p", sub, AccountType.PROJECT)
    assert limits.account_limit(session, project, "project") == limits.UNLIMITED  # no max.project.projects
    session.add(ResourceLimit(type="user_vm", max=3, account_id=user.id))
    assert limits.account_limit(session, user, 0) == 3
    assert limits.domain_limit(session, root, "cpu") == limits.UNLIMITED
    assert limits.domain_limit(session, sub, "cpu") == 80  # max.domain.cpus
    session.add(ResourceLimit(type="cpu", max=12, domain_id=dom.id))
    session.flush()
    assert limits.domain_limit(session, sub, "cpu") == 12  # inherited from the nearest ancestor with a row


def test_reserve_release_and_messages(session):
    root = session.get(Domain, 1)
    dom = _domain(session, "d", root)
    a = _account(session, "alice", dom)
    b = _account(session, "bob", dom)
    session.add(ResourceLimit(type="user_vm", max=2, account_id=a.id))
    session.add(ResourceLimit(type="cpu", max=3, domain_id=dom.id))
    session.flush()
    limits.reserve(session, account_id=a.id, resource="user_vm", amount=2)
    with pytest.raises(ResourceAllocation) as err:
        limits.reserve(session, account_id=a.id, resource="user_vm")
    assert err.value.code == 535
    assert err.value.message == (f"Maximum number of resources of type 'user_vm' for account name=alice in domain "
                                 f"id={dom.uuid} has been exceeded.")
    limits.reserve_many(session, account_id=a.id, amounts={"cpu": 2, "memory": 512})
    with pytest.raises(ResourceAllocation, match=f"type 'cpu' for domain id={dom.uuid}"):
        limits.reserve(session, account_id=b.id, resource="cpu", amount=2)  # the domain total would be 4 > 3
    limits.reserve(session, account_id=b.id, resource="cpu", amount=1)
    counts = limits.counts_of(session, account_ids=[a.id, b.id], domain_ids=[dom.id, root.id])
    assert counts[("account", a.id, "cpu")] == 2 and counts[("domain", dom.id, "cpu")] == 3
    assert counts[("domain", root.id, "memory")] == 512
    limits.release(session, account_id=a.id, resource="cpu", amount=5)  # never below zero
    counts = limits.counts_of(session, account_ids=[a.id], domain_ids=[dom.id])
    assert counts[("account", a.id, "cpu")] == 0 and counts[("domain", dom.id, "cpu")] == 1
    limits.reserve(session, account_id=2, resource="user_vm", amount=1000)  # root admins are unlimited


def test_recalculate_uses_registered_counters(session, monkeypatch):
    root = session.get(Domain, 1)
    dom = _domain(session, "d", root)
    a = _account(session, "alice", dom)
    b = _account(session, "bob", dom)
    monkeypatch.setitem(limits.RESOURCE_COUNTERS, "volume", lambda s, account_id: 4 if account_id == a.id else 1)
    monkeypatch.delitem(limits.RESOURCE_COUNTERS, "snapshot", raising=False)  # as a type nobody counts
    limits.reserve(session, account_id=a.id, resource="snapshot", amount=2)
    assert limits.recalculate(session, a.id)["volume"] == 4
    totals = limits.recalculate_domain(session, dom)
    assert totals["volume"] == 5 and totals["snapshot"] == 2  # snapshot has no counter: kept as counted
    assert limits.counts_of(session, domain_ids=[root.id])[("domain", root.id, "volume")] >= 5
    assert limits.counts_of(session, account_ids=[b.id])[("account", b.id, "volume")] == 1
