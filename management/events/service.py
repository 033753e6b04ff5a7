"""Writing action events and usage events, in the same transaction as the change they record."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from management.context import Caller
from management.events.models import Event, UsageEvent


def record(session: Session, caller: Caller, type_: str, description: str, *, state: str = "Completed",
           level: str = "INFO", resource=None, resource_type: str | None = None, account_id: int | None = None,
           domain_id: int | None = None, start_id: int | None = None) -> Event:
    """Add an event row; the owner defaults to the caller's account."""
    event = Event(type=type_, description=description, state=state, level=level, user_id=caller.user_id,
                  account_id=account_id or caller.account_id, domain_id=domain_id or caller.domain_id,
                  resource_id=getattr(resource, "id", None), resource_uuid=getattr(resource, "uuid", None),
                  resource_type=resource_type, start_id=start_id)
    session.add(event)
    session.flush()
    return event


def record_usage(session: Session, type_: str, *, account_id: int, zone_id: int = 0, resource_id: int | None = None,
                 resource_name: str | None = None, offering_id: int | None = None, template_id: int | None = None,
                 size: int | None = None, resource_type: str | None = None, virtual_size: int | None = None,
                 details: dict | None = None) -> UsageEvent:
    row = UsageEvent(type=type_, account_id=account_id, zone_id=zone_id, resource_id=resource_id,
                     resource_name=resource_name, offering_id=offering_id, template_id=template_id, size=size,
                     resource_type=resource_type, virtual_size=virtual_size,
                     details=json.dumps(details) if details else None)
    session.add(row)
    return row
