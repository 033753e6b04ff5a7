"""listEvents: action events, scoped like every owned resource."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select

from management.api.native.params import Param
from management.api.native.registry import ListDomainResourcesCommand, ListResult, command
from management.api.native.responses import ResponseObject, cs_date
from management.context import Context
from management.db import utcnow
from management.events.models import Event
from management.iam import access
from management.iam.models import Account, Domain, User
from management.iam.responses import domain_display_path
from management.pagination import page


class EventResponse(ResponseObject):
    object_name = "event"
    id: str
    type: str
    level: str
    state: str
    description: str
    username: str | None = None
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None
    created: str | None = None
    parentid: str | None = None
    resourceid: str | None = None
    resourcetype: str | None = None
    archived: bool = False


def event_views(session, rows: list[Event]) -> list[EventResponse]:
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_({r.account_id for r in rows})))}
    domains = {d.id: d for d in session.scalars(select(Domain).where(Domain.id.in_({r.domain_id for r in rows})))}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_({r.user_id for r in rows})))}
    parents = {e.id: e.uuid for e in session.scalars(select(Event).where(Event.id.in_({r.start_id for r in rows
                                                                                       if r.start_id})))}
    views = []
    for row in rows:
        account, domain, user = accounts.get(row.account_id), domains.get(row.domain_id), users.get(row.user_id)
        views.append(EventResponse(
            id=row.uuid, type=row.type, level=row.level, state=row.state, description=row.description,
            username=user.username if user else None, account=account.account_name if account else None,
            domainid=domain.uuid if domain else None, domain=domain.name if domain else None,
            domainpath=domain_display_path(domain) if domain else None, created=cs_date(row.created),
            parentid=parents.get(row.start_id), resourceid=row.resource_uuid, resourcetype=row.resource_type,
            archived=row.archived))
    return views


@command("listEvents", response=EventResponse, list_key="event")
class ListEvents(ListDomainResourcesCommand):
    """A command to list events."""

    id = Param("uuid", entity=Event, description="the ID of the event")
    type = Param(description="the event type (see event types)")
    level = Param(description="the event level (INFO, WARN, ERROR)", choices=("INFO", "WARN", "ERROR"))
    startdate = Param("date", description="the start date range of the list you want to retrieve (use format "
                                          "\"yyyy-MM-dd\" or the new format \"yyyy-MM-dd HH:mm:ss\")")
    enddate = Param("date", description="the end date range of the list you want to retrieve (use format "
                                        "\"yyyy-MM-dd\" or the new format \"yyyy-MM-dd HH:mm:ss\")")
    duration = Param("integer", min=0, description="the duration of the event")
    entrytime = Param("integer", min=0, description="the time the event was entered")
    startid = Param("uuid", entity=Event, description="the parent/start ID of the event, when provided this will "
                                                      "list all the events with the start/parent ID including the "
                                                      "parent event")
    resourceid = Param(description="the ID of the resource associated with the event")
    resourcetype = Param(description="the type of the resource associated with the event")
    archived = Param("boolean", default=False, description="true to list archived events otherwise false")
    state = Param(description="the state of the event")

    def handle(self, ctx: Context) -> ListResult:
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall, by_id=self.id is not None)
        query = select(Event).where(scope.where(Event.account_id, Event.domain_id), Event.display.is_(True),
                                    Event.archived.is_(self.archived))
        if self.id is not None:
            query = query.where(Event.id == self.id.id)
        if self.type:
            query = query.where(Event.type == self.type)
        if self.level:
            query = query.where(Event.level == self.level)
        if self.state:
            query = query.where(func.lower(Event.state) == self.state.lower())
        if self.startdate:
            query = query.where(Event.created >= self.startdate)
        if self.enddate:
            end = self.enddate + timedelta(days=1) if len(self.raw.get("enddate", "")) == 10 else self.enddate
            query = query.where(Event.created < end)
        if self.startid is not None:
            query = query.where(or_(Event.id == self.startid.id, Event.start_id == self.startid.id))
        if self.resourceid:
            query = query.where(Event.resource_uuid == self.resourceid)
        if self.resourcetype:
            query = query.where(func.lower(Event.resource_type) == self.resourcetype.lower())
        if self.keyword:
            query = query.where(or_(Event.type.like(f"%{self.keyword}%"), Event.description.like(f"%{self.keyword}%")))
        if self.duration is not None and self.entrytime is not None:
            # events started longer than ``duration`` seconds ago that have no completion yet
            cutoff = utcnow() - timedelta(seconds=self.duration)
            query = query.where(Event.state == "Started", Event.created < cutoff)
        offset, limit = self.window(ctx.session)
        rows, total = page(ctx.session, query.order_by(Event.id.desc()), offset, limit)
        return ListResult(event_views(ctx.session, rows), total)
