"""Alerts (CloudStack's ``alert`` table and ``listAlerts``): what an operator should look at.

``raise_alert(session, type_, subject, ...)`` adds a row in the caller's transaction. The same unarchived
alert (type, subject, zone/pod) raised again within ``REPEAT_WINDOW`` only bumps ``sent_count`` and
``last_sent``, so a condition reported on every ping does not flood the table. Types are CloudStack's
``AlertManager.AlertType`` numbers and names (``ALERT_NAMES``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, Index, Integer, String, Text, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from management.api.native.params import Param
from management.api.native.registry import ADMINS, ListCommand, ListResult, command
from management.api.native.responses import ResponseObject, cs_date
from management.context import Context
from management.db import Base, UtcDateTime, UuidMixin, utcnow
from management.pagination import page

HOST = 7
USERVM = 8
ROUTING = 11
MANAGEMENT_NODE = 14
SYNC = 27
ALERT_NAMES = {0: "ALERT.MEMORY", 1: "ALERT.CPU", 2: "ALERT.STORAGE", 3: "ALERT.STORAGE.ALLOCATED",
               4: "ALERT.NETWORK.PUBLICIP", 5: "ALERT.NETWORK.PRIVATEIP", 6: "ALERT.STORAGE.SECONDARY",
               HOST: "ALERT.COMPUTE.HOST", USERVM: "ALERT.USERVM", 9: "ALERT.SERVICE.DOMAINROUTER",
               10: "ALERT.SERVICE.CONSOLEPROXY", ROUTING: "ALERT.NETWORK.ROUTING", 12: "ALERT.STORAGE.MISC",
               13: "ALERT.USAGE", MANAGEMENT_NODE: "ALERT.MANAGEMENT", 17: "ALERT.USERVM.MIGRATE",
               25: "ALERT.STORAGE.LOCAL", 26: "ALERT.RESOURCE.EXCEED", SYNC: "ALERT.TYPE.SYNC",
               28: "ALERT.UPLOAD.FAILED"}
REPEAT_WINDOW = timedelta(hours=1)


class Alert(UuidMixin, Base):
    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_type_created", "type", "created"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(999))
    content: Mapped[str | None] = mapped_column(Text)
    zone_id: Mapped[int | None] = mapped_column(Integer)
    pod_id: Mapped[int | None] = mapped_column(Integer)
    cluster_id: Mapped[int | None] = mapped_column(Integer)
    sent_count: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    last_sent: Mapped[datetime | None] = mapped_column(UtcDateTime, default=utcnow)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


def raise_alert(session: Session, type_: int, subject: str, *, content: str | None = None, zone_id: int | None = None,
                pod_id: int | None = None, cluster_id: int | None = None) -> Alert:
    now = utcnow()
    subject = subject[:999]
    same = session.scalar(select(Alert).where(
        Alert.type == type_, Alert.subject == subject, Alert.archived.is_(False), Alert.created >= now - REPEAT_WINDOW,
        Alert.zone_id.is_(None) if zone_id is None else Alert.zone_id == zone_id,
        Alert.pod_id.is_(None) if pod_id is None else Alert.pod_id == pod_id).order_by(Alert.id.desc()).limit(1))
    if same is not None:
        same.sent_count += 1
        same.last_sent = now
        return same
    alert = Alert(type=type_, name=ALERT_NAMES.get(type_, f"ALERT.{type_}"), subject=subject, content=content,
                  zone_id=zone_id, pod_id=pod_id, cluster_id=cluster_id, created=now, last_sent=now)
    session.add(alert)
    session.flush()
    return alert


class AlertResponse(ResponseObject):
    object_name = "alert"
    id: str
    type: int
    name: str
    description: str
    sent: str | None = None


@command("listAlerts", response=AlertResponse, list_key="alert", roles=ADMINS)
class ListAlerts(ListCommand):
    """Lists all alerts."""

    id = Param("uuid", entity=Alert, description="the ID of the alert")
    type = Param("integer", description="list by alert type")
    name = Param(description="list by alert name")

    def handle(self, ctx: Context) -> ListResult:
        query = select(Alert).where(Alert.archived.is_(False))
        if self.id is not None:
            query = query.where(Alert.id == self.id.id)
        if self.type is not None:
            query = query.where(Alert.type == self.type)
        if self.name:
            query = query.where(Alert.name == self.name)
        if self.keyword:
            query = query.where(or_(Alert.subject.like(f"%{self.keyword}%"), Alert.name.like(f"%{self.keyword}%")))
        rows, total = page(ctx.session, query.order_by(Alert.id.desc()), *self.window(ctx.session))
        return ListResult([AlertResponse(id=r.uuid, type=r.type, name=r.name, description=r.subject,
                                         sent=cs_date(r.last_sent or r.created)) for r in rows], total)
