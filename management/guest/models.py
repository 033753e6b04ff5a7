"""SSH key pairs (CloudStack's ssh_keypairs table): one row per key, unique name per account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from management.db import Base, UtcDateTime, UuidMixin, utcnow


class SSHKeyPair(UuidMixin, Base):
    __tablename__ = "ssh_keypairs"
    __table_args__ = (UniqueConstraint("account_id", "keypair_name", name="uq_ssh_keypairs_account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id"), index=True)
    keypair_name: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(255), index=True)
    public_key: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
