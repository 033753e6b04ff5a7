"""Global settings: typed reads (briefly cached per process), validated updates, seeding."""

from __future__ import annotations

import time

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from management.config.catalog import SETTINGS
from management.config.keys import ConfigKey
from management.config.models import Configuration
from management.db import utcnow
from management.errors import InvalidParameter

CATALOG: dict[str, ConfigKey] = {key.name: key for key in SETTINGS}
CACHE_SECONDS = 2.0
_cache: dict[str, tuple[str | None, float]] = {}


def clear_cache() -> None:
    _cache.clear()


def get_value(session: Session, name: str) -> str | None:
    """The current value of a setting (the catalog default when the row is missing)."""
    hit = _cache.get(name)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    row = session.get(Configuration, name)
    value = row.value if row is not None else (CATALOG[name].default if name in CATALOG else None)
    _cache[name] = (value, now + CACHE_SECONDS)
    return value


def get_int(session: Session, name: str) -> int:
    value = get_value(session, name)
    try:
        return int(float(value)) if value not in (None, "") else int(float(CATALOG[name].default or 0))
    except ValueError:
        return int(float(CATALOG[name].default or 0))


def get_float(session: Session, name: str) -> float:
    value = get_value(session, name)
    try:
        return float(value) if value not in (None, "") else float(CATALOG[name].default or 0)
    except ValueError:
        return float(CATALOG[name].default or 0)


def get_bool(session: Session, name: str) -> bool:
    return (get_value(session, name) or "").strip().lower() == "true"


def validate_value(key: ConfigKey, value: str | None) -> str | None:
    """Normalise a new value for ``key`` or raise 431 saying what is wrong with it."""
    if value is None or value == "":
        if key.type in ("Boolean", "Integer", "Long", "Float", "Double"):
            raise InvalidParameter(f"The value of configuration {key.name} cannot be empty: it must be a {key.type}")
        return value
    if key.type == "Boolean":
        if value.lower() not in ("true", "false"):
            raise InvalidParameter(f"Configuration {key.name} must be either 'true' or 'false', not '{value}'")
        return value.lower()
    if key.type in ("Integer", "Long", "Float", "Double"):
        try:
            number = int(value) if key.type in ("Integer", "Long") else float(value)
        except ValueError:
            raise InvalidParameter(f"Configuration {key.name} must be a {key.type} value, not '{value}'") from None
        if key.type in ("Float", "Double") and number != number:
            raise InvalidParameter(f"Configuration {key.name} must be a number, not '{value}'")
        if key.min is not None and number < key.min:
            raise InvalidParameter(f"Configuration {key.name} must be at least {key.min:g}, not {value}")
        if key.max is not None and number > key.max:
            raise InvalidParameter(f"Configuration {key.name} must be at most {key.max:g}, not {value}")
        return value.strip()
    if key.options:
        for option in key.options:
            if option.lower() == value.lower():
                return option
        raise InvalidParameter(f"Configuration {key.name} must be one of {', '.join(key.options)}, not '{value}'")
    return value


def update(session: Session, name: str, value: str | None) -> Configuration:
    key = CATALOG.get(name)
    row = session.get(Configuration, name, with_for_update=True)
    if key is None or row is None:
        raise InvalidParameter(f"Invalid config name: {name}")
    row.value = validate_value(key, value)
    row.updated = utcnow()
    session.flush()
    _cache.pop(name, None)
    return row


def reset(session: Session, name: str) -> Configuration:
    row = session.get(Configuration, name, with_for_update=True)
    if row is None:
        raise InvalidParameter(f"Invalid config name: {name}")
    row.value = row.default_value
    row.updated = utcnow()
    _cache.pop(name, None)
    return row


def list_configurations(session: Session, *, name: str | None, category: str | None, keyword: str | None,
                        offset: int, limit: int | None) -> tuple[list[Configuration], int]:
    query = select(Configuration)
    if name:
        query = query.where(Configuration.name.like(f"%{name}%"))
    if category:
        query = query.where(func.lower(Configuration.category) == category.lower())
    if keyword:
        query = query.where(or_(Configuration.name.like(f"%{keyword}%"), Configuration.description.like(f"%{keyword}%")))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Configuration.name).offset(offset).limit(limit)).all()
    return list(rows), total


def seed(session: Session, overrides: dict[str, str] | None = None) -> int:
    """Insert every catalogued setting missing from the table; existing values are kept."""
    existing = set(session.scalars(select(Configuration.name)))
    added = 0
    for key in SETTINGS:
        if key.name in existing:
            continue
        value = (overrides or {}).get(key.name, key.default)
        session.add(Configuration(name=key.name, category=key.category, component=key.component, value=value,
                                  default_value=key.default, description=key.description, scope=key.scope,
                                  is_dynamic=key.is_dynamic))
        added += 1
    session.flush()
    return added
