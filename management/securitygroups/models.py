"""Security groups (CloudStack's security_group, security_group_rule, security_group_vm_map) and the per-VM
rule-set sequence (CloudStack's op_nwgrp_work / op_vm_ruleset_log, folded into one row per VM).

A rule row allows one source (ingress) or destination (egress): either a CIDR (``allowed_ip_cidr``) or the
members of another group (``allowed_group_id``), as CloudStack stores one row per CIDR or group.
``security_group_work.seq`` grows every time something changes the VM's effective rules; the host has
them when ``applied_seq`` caught up (the agent ignores commands older than the last it applied).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow

INGRESS, EGRESS = "ingress", "egress"


class SecurityGroup(UuidMixin, Base):
    __tablename__ = "security_group"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_security_group_account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(4096))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"), index=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SecurityGroupRule(UuidMixin, Base):
    __tablename__ = "security_group_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    security_group_id: Mapped[int] = mapped_column(ForeignKey("security_group.id"), index=True)
    type: Mapped[str] = mapped_column(String(10))  # ingress | egress
    protocol: Mapped[str] = mapped_column(String(16))  # tcp | udp | icmp | all | a number
    start_port: Mapped[int | None] = mapped_column(Integer)  # icmp: the type (-1 any)
    end_port: Mapped[int | None] = mapped_column(Integer)  # icmp: the code (-1 any)
    allowed_ip_cidr: Mapped[str | None] = mapped_column(String(64))
    allowed_group_id: Mapped[int | None] = mapped_column(ForeignKey("security_group.id"), index=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SecurityGroupVmMap(Base):
    __tablename__ = "security_group_vm_map"
    __table_args__ = (UniqueConstraint("security_group_id", "vm_id", name="uq_security_group_vm_map"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    security_group_id: Mapped[int] = mapped_column(ForeignKey("security_group.id"), index=True)
    vm_id: Mapped[int] = mapped_column(ForeignKey("vm_instance.id"), index=True)


class SecurityGroupWork(Base):
    """One row per VM in a group: the rule-set sequence wanted (``seq``) and the one its host confirmed."""

    __tablename__ = "security_group_work"
    __table_args__ = (Index("ix_security_group_work_dirty", "dirty"),)

    vm_id: Mapped[int] = mapped_column(ForeignKey("vm_instance.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=1)
    applied_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    dirty: Mapped[bool] = mapped_column(default=True)  # seq > applied_seq (indexed, for the worker's scan)
    host_id: Mapped[int | None] = mapped_column(BigInteger)  # where the last applied rules are
    digest: Mapped[str | None] = mapped_column(String(64))  # the agent's digest of the rules it programmed
    rules: Mapped[int] = mapped_column(Integer, default=0)  # how many rules it programmed
    updated: Mapped[datetime | None] = mapped_column(UtcDateTime)
