"""Paging of list queries: total count plus one page of rows."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def page(session: Session, query: Select, offset: int, limit: int | None) -> tuple[list, int]:
    """Rows ``offset``..``offset+limit`` of ``query`` and the total number of matching rows."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(query.offset(offset).limit(limit)).all() if total > offset else []
    return list(rows), total
