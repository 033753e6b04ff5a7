"""Agent commands of one domain — Security groups: per-VM ingress/egress rules programmed on the host.

Each ``Command`` subclass registers under its ``kind`` (``agent.protocol.COMMANDS``) and its ``run`` calls
the driver methods declared in ``agent.hypervisor.network``.

``SecurityGroupRules`` (CloudStack's SecurityGroupRulesCmd) always carries the *whole* rule set of one VM
NIC, so applying it twice is harmless; ``seq`` grows with every change and a host ignores a command older
than the last one it applied for that VM (the answer then says which ``seq`` it has).
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, Field

from agent.protocol import Command


class SgRule(BaseModel):
    """One allowed flow: ``protocol`` tcp/udp (ports), icmp (``icmp_type``/``icmp_code``, -1 = any), all, or a
    protocol number; ``cidrs`` are the remote addresses (for a rule naming a group: its members' /32s)."""

    protocol: str = "all"
    start_port: int | None = None
    end_port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    cidrs: list[str] = []


class SecurityGroupRules(Command):
    kind: Literal["SecurityGroupRules"] = "SecurityGroupRules"
    vm_name: str
    vm_id: int
    guest_ip: str
    guest_mac: str
    vif: str | None = None  # the VM's device on the bridge; None: found from the domain's NIC with guest_mac
    seq: int = Field(ge=0)
    ingress: list[SgRule] = []
    egress: list[SgRule] = []

    def digest(self) -> str:
        """A digest of what is programmed (not of the sequence): equal rule sets give equal digests."""
        body = {"ip": self.guest_ip, "mac": self.guest_mac.lower(),
                "ingress": [r.model_dump() for r in self.ingress], "egress": [r.model_dump() for r in self.egress]}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def run(self, driver) -> dict:
        applied = driver.apply_security_group_rules(self)
        return {"vm_name": self.vm_name, "seq": applied, "applied": applied == self.seq, "digest": self.digest(),
                "rules": sum(max(1, len(r.cidrs)) for r in self.ingress + self.egress)}


class CleanupSecurityGroupRules(Command):
    """Remove everything programmed for a VM (it stopped, moved away or was expunged)."""

    kind: Literal["CleanupSecurityGroupRules"] = "CleanupSecurityGroupRules"
    vm_name: str

    def run(self, driver) -> dict:
        driver.remove_security_group_rules(self.vm_name)
        return {"vm_name": self.vm_name}


class SecurityGroupRulesBatch(Command):
    """The rule sets of several VMs of one host in one message (the sync worker's unit of work); one VM that
    cannot be programmed does not stop the others."""

    kind: Literal["SecurityGroupRulesBatch"] = "SecurityGroupRulesBatch"
    rules: list[SecurityGroupRules] = []
    cleanup: list[str] = []  # VM names whose rules are to be removed

    def run(self, driver) -> dict:
        results = []
        for name in self.cleanup:
            try:
                driver.remove_security_group_rules(name)
                results.append({"vm_name": name, "ok": True, "cleanup": True})
            except Exception as error:  # noqa: BLE001  (reported per VM)
                results.append({"vm_name": name, "ok": False, "cleanup": True, "details": str(error)})
        for cmd in self.rules:
            try:
                results.append({"ok": True, **cmd.run(driver)})
            except Exception as error:  # noqa: BLE001
                results.append({"vm_name": cmd.vm_name, "ok": False, "details": str(error)})
        return {"results": results}
