"""Fixtures: one real cloud (management server + worker, on SQLite or MariaDB/Redis) per test session."""

from __future__ import annotations

import uuid

import pytest
from cs import CloudStack

from tests.support import BACKEND, Client, keys_for, make_cloud


@pytest.fixture(scope="session")
def cloud(tmp_path_factory):
    c = make_cloud(tmp_path_factory.mktemp("cloud"))
    yield c
    c.close()


@pytest.fixture(scope="session")
def admin_keys(cloud) -> tuple[str, str]:
    return keys_for(cloud.url, "admin", "password")


@pytest.fixture(scope="session")
def admin(cloud, admin_keys) -> Client:
    return Client(cloud.url, *admin_keys)


@pytest.fixture(scope="session")
def cs_admin(cloud, admin_keys) -> CloudStack:
    return CloudStack(endpoint=cloud.url, key=admin_keys[0], secret=admin_keys[1], fetch_result=True)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_account(admin, cloud):
    """Create an account (type 0 user by default) and return (account, Client signed with its keys)."""

    def make(accounttype: int = 0, domainid: str | None = None, name: str | None = None):
        name = name or unique("acct")
        params = dict(username=name, password="pw-" + name, email=f"{name}@example.test", firstname="T",
                      lastname="U", accounttype=accounttype)
        if domainid:
            params["domainid"] = domainid
        account = admin("createAccount", **params)["account"]
        user = account["user"][0]
        keys = admin("registerUserKeys", id=user["id"])["userkeys"]
        return account, Client(cloud.url, keys["apikey"], keys["secretkey"])

    return make


def pytest_report_header(config):
    return f"cloudstack backend: {BACKEND}"
