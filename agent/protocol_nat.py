"""Agent commands of one domain — Public IPs and static NAT on the host.

Each ``Command`` subclass registers under its ``kind`` (``agent.protocol.COMMANDS``) and its ``run`` calls
the driver methods declared in ``agent.hypervisor.nat``.

Static NAT (CloudStack's Elastic IP, done here by the VM's host instead of a NetScaler): traffic to
``public_ip`` is DNATed to ``guest_ip``; new connections from ``guest_ip`` leave SNATed to ``public_ip``; the
host answers for ``public_ip`` on ``public_device`` (the Public traffic label of the zone, else the agent's
``public.network.device``, default cloudbr0).
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from agent.protocol import Command

DEFAULT_PUBLIC_DEVICE = "cloudbr0"
DEVICE_PATTERN = r"^[A-Za-z0-9_.:@-]{1,15}$"


class StaticNatRule(BaseModel):
    public_ip: str
    guest_ip: str
    vm_name: str = ""
    public_device: str | None = Field(default=None, pattern=DEVICE_PATTERN)  # None: the agent's own setting

    @field_validator("public_ip", "guest_ip")
    @classmethod
    def _ipv4(cls, value: str) -> str:
        return str(ipaddress.IPv4Address(value))


class ApplyStaticNat(Command):
    """Add (``revoke`` false) or remove these rules; both are idempotent."""

    kind: Literal["ApplyStaticNat"] = "ApplyStaticNat"
    rules: list[StaticNatRule]
    revoke: bool = False

    def run(self, driver) -> dict:
        if self.revoke:
            driver.revoke_static_nat(self.rules)
        else:
            driver.apply_static_nat(self.rules)
        return {"rules": driver.list_static_nat()}


class SyncStaticNat(Command):
    """Make the host's static NAT exactly these rules (sent when an agent (re)connects)."""

    kind: Literal["SyncStaticNat"] = "SyncStaticNat"
    rules: list[StaticNatRule]

    def run(self, driver) -> dict:
        driver.sync_static_nat(self.rules)
        return {"rules": driver.list_static_nat()}


class ListStaticNat(Command):
    kind: Literal["ListStaticNat"] = "ListStaticNat"

    def run(self, driver) -> dict:
        return {"rules": driver.list_static_nat()}
