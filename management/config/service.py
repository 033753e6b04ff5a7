"""Settings: typed reads (briefly cached per process), validated updates, seeding, and scoped values.

A key whose scope is zone, cluster, storagepool, account, domain or imagestore may also hold a value for one
such resource (``updateConfiguration zoneid=...``); a read that names the resource gets that value, else the
global one (CloudStack's ``ConfigKey.valueIn``). Where a domain already keeps a scoped value in a column of
its own (a cluster's CPU and memory overcommit ratios), that column is bound here and is the only copy."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from management.config.catalog import SETTINGS
from management.config.keys import ConfigKey
from management.config.models import Configuration, ScopedConfiguration
from management.db import utcnow
from management.errors import InvalidParameter

CATALOG: dict[str, ConfigKey] = {key.name: key for key in SETTINGS}
CACHE_SECONDS = 2.0
_cache: dict[tuple, tuple[str | None, float]] = {}


def clear_cache() -> None:
    _cache.clear()


SCOPE_ARGS = {"zone": "zone", "cluster": "cluster", "storagepool": "pool", "account": "account",
              "domain": "domain", "imagestore": "store"}  # a key's scope -> the get_value argument naming it
_columns: dict[tuple[str, str], Any] = {}  # (scope, name) -> ORM column of the scope's table holding the value


def bind_column(scope: str, name: str, column: Any) -> None:
    """Keep ``name``'s value for resources of ``scope`` in ``column`` (a column of that resource's table)."""
    _columns[(scope, name)] = column


def _cached(key: tuple, load) -> str | None:
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    value = load()
    _cache[key] = (value, now + CACHE_SECONDS)
    return value


def _global(session: Session, name: str) -> str | None:
    row = session.get(Configuration, name)
    return row.value if row is not None else (CATALOG[name].default if name in CATALOG else None)


def scoped_value(session: Session, name: str, scope: str, resource_id: int) -> str | None:
    """The value ``name`` has for one resource, or None when the resource has none of its own."""
    column = _columns.get((scope, name))
    if column is not None:
        value = session.scalar(select(column).where(column.class_.id == resource_id))
        return None if value in (None, 0) else (f"{value:g}" if isinstance(value, float) else str(value))
    return session.scalar(select(ScopedConfiguration.value).where(
        ScopedConfiguration.scope == scope, ScopedConfiguration.resource_id == resource_id,
        ScopedConfiguration.name == name))


def get_value(session: Session, name: str, *, zone: int | None = None, cluster: int | None = None,
              pool: int | None = None, account: int | None = None, domain: int | None = None,
              store: int | None = None) -> str | None:
    """The current value of a setting: the named resource's own where the key's scope allows one, else the
    global value, else the catalog default."""
    key = CATALOG.get(name)
    if key is not None and key.scope in SCOPE_ARGS:
        resource_id = {"zone": zone, "cluster": cluster, "pool": pool, "account": account, "domain": domain,
                       "store": store}[SCOPE_ARGS[key.scope]]
        if resource_id is not None:
            own = _cached((name, key.scope, resource_id),
                          lambda: scoped_value(session, name, key.scope, resource_id))
            if own is not None:
                return own
    return _cached((name,), lambda: _global(session, name))


def _number(session: Session, name: str, scope: dict, kind) -> float:
    value = get_value(session, name, **scope)
    try:
        return kind(float(value)) if value not in (None, "") else kind(float(CATALOG[name].default or 0))
    except ValueError:
        return kind(float(CATALOG[name].default or 0))


def get_int(session: Session, name: str, **scope) -> int:
    return _number(session, name, scope, int)


def get_float(session: Session, name: str, **scope) -> float:
    return _number(session, name, scope, float)


def get_bool(session: Session, name: str, **scope) -> bool:
    return (get_value(session, name, **scope) or "").strip().lower() == "true"


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
    _cache.pop((name,), None)
    return row


def reset(session: Session, name: str) -> Configuration:
    row = session.get(Configuration, name, with_for_update=True)
    if row is None:
        raise InvalidParameter(f"Invalid config name: {name}")
    row.value = row.default_value
    row.updated = utcnow()
    _cache.pop((name,), None)
    return row


def scoped_key(name: str, scope: str) -> ConfigKey:
    """The key ``name`` if it can hold a value for a resource of ``scope``; 431 otherwise (as CloudStack)."""
    key = CATALOG.get(name)
    if key is None:
        raise InvalidParameter(f"Invalid config name: {name}")
    if key.scope != scope:
        raise InvalidParameter(f"Invalid scope id provided for the parameter {name}: its scope is {key.scope}, "
                               f"not {scope}")
    return key


def update_scoped(session: Session, name: str, value: str | None, scope: str, resource_id: int) -> str | None:
    """Give one resource its own value of ``name``; returns the value now in force for it."""
    key = scoped_key(name, scope)
    value = validate_value(key, value)
    column = _columns.get((scope, name))
    if column is not None:
        session.execute(sql_update(column.class_).where(column.class_.id == resource_id).values(
            {column.key: float(value) if value not in (None, "") else None}))
    else:
        row = session.get(ScopedConfiguration, (scope, resource_id, name), with_for_update=True)
        if row is None:
            row = ScopedConfiguration(scope=scope, resource_id=resource_id, name=name)
            session.add(row)
        row.value, row.updated = value, utcnow()
    session.flush()
    _cache.pop((name, scope, resource_id), None)
    return get_value(session, name, **{SCOPE_ARGS[scope]: resource_id})


def reset_scoped(session: Session, name: str, scope: str, resource_id: int) -> str | None:
    """Drop one resource's own value of ``name``: the global value applies to it again."""
    scoped_key(name, scope)
    column = _columns.get((scope, name))
    if column is not None:
        session.execute(sql_update(column.class_).where(column.class_.id == resource_id).values({column.key: None}))
    else:
        session.execute(delete(ScopedConfiguration).where(
            ScopedConfiguration.scope == scope, ScopedConfiguration.resource_id == resource_id,
            ScopedConfiguration.name == name))
    session.flush()
    _cache.pop((name, scope, resource_id), None)
    return get_value(session, name, **{SCOPE_ARGS[scope]: resource_id})


def list_configurations(session: Session, *, name: str | None, category: str | None, keyword: str | None,
                        offset: int, limit: int | None, scope: str | None = None
                        ) -> tuple[list[Configuration], int]:
    query = select(Configuration)
    if scope:
        query = query.where(Configuration.scope == scope)
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
