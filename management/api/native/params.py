"""Parameter declarations and CloudStack-style parsing of raw request values.

Types are CloudStack's listApis types: boolean, integer, long, short, float, double, string,
uuid, list, map, date, tzdate. Parsing follows the real server: booleans are "true"
(any case) or false, empty numeric values mean "not given", uuid parameters must name an
existing row (removed rows included), lists are comma-separated, maps come from
``name[i].field=value`` keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import or_, select

from management.errors import InvalidParameter, MalformedParameter

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAP_KEY = re.compile(r"^([^\[\]]+)\[(\d+)\]\.([^\[\]]+)$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
INT_BOUNDS = {"short": 2**15, "integer": 2**31, "long": 2**63}


@dataclass
class Param:
    """One request parameter of a command, as it appears in listApis."""

    type: str = "string"
    required: bool = False
    description: str = ""
    length: int = 255
    entity: Any = None  # ORM model a uuid parameter refers to
    since: str | None = None
    admin_only: bool = False
    item_type: str = "string"  # element type of a list
    choices: tuple[str, ...] | None = None  # allowed values (compared case-insensitively)
    min: float | None = None
    max: float | None = None
    default: Any = None
    wire: str = ""  # set by the registry: the lower-case wire name
    attr: str = ""  # set by the registry: the Python attribute name

    def __set_name__(self, owner, name: str) -> None:
        self.attr = name
        if not self.wire:
            self.wire = name.rstrip("_").lower()


def invalid(command: str, name: str, value: Any, why: str = "") -> InvalidParameter:
    reason = f": {why}" if why else ""
    return InvalidParameter(f"Unable to execute API command {command} due to invalid value. "
                            f"Invalid parameter {name} value={value}{reason}")


def split_maps(raw: dict[str, str]) -> tuple[dict[str, str], dict[str, dict[int, dict[str, str]]]]:
    """Lower-case plain names; gather ``name[i].field`` keys into ``{name: {i: {field: v}}}``."""
    plain: dict[str, str] = {}
    maps: dict[str, dict[int, dict[str, str]]] = {}
    for key, value in raw.items():
        if "[" in key or "]" in key:
            match = MAP_KEY.match(key)
            if not match:
                raise MalformedParameter(f"Unable to decode parameter {key}; if specifying an object array, "
                                         "please use parameter[index].field=XXX, e.g. userGroupList[0].group=httpGroup")
            name, index, fld = match.groups()
            maps.setdefault(name.lower(), {}).setdefault(int(index), {})[fld] = value
        else:
            plain.setdefault(key.lower(), value)
    return plain, maps


def parse_bool(value: str) -> bool:
    return value.strip().lower() == "true"


def parse_date(command: str, name: str, value: str, with_time: bool) -> datetime:
    formats = ["%Y-%m-%d"] + (["%Y-%m-%d %H:%M:%S"] if with_time else [])
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    parsed = parse_tzdate(value)
    if parsed is None:
        raise invalid(command, name, value, "expected a date as yyyy-MM-dd")
    return parsed


def parse_tzdate(value: str) -> datetime | None:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_scalar(command: str, p: Param, name: str, value: str, kind: str | None = None):
    kind = kind or p.type
    if kind == "boolean":
        return parse_bool(value)
    if kind in INT_BOUNDS:
        try:
            number = int(value.strip())
        except ValueError:
            raise invalid(command, name, value, "incorrect long value format") from None
        bound = INT_BOUNDS[kind]
        if not -bound <= number < bound:
            raise invalid(command, name, value, f"value out of range for {kind}")
        return _bounded(command, p, name, number)
    if kind in ("float", "double"):
        try:
            number = float(value.strip())
        except ValueError:
            raise invalid(command, name, value, "not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise invalid(command, name, value, "not a finite number")
        return _bounded(command, p, name, number)
    if kind == "date":
        return parse_date(command, name, value, with_time=True)
    if kind == "tzdate":
        parsed = parse_tzdate(value)
        if parsed is None:
            raise invalid(command, name, value, "expected an ISO-8601 date with time zone")
        return parsed
    if len(value) > p.length:
        raise invalid(command, name, value[:64] + "...", f"longer than the maximum length {p.length}")
    if p.choices is not None:
        for choice in p.choices:
            if choice.lower() == value.lower():
                return choice
        raise invalid(command, name, value, "allowed values are " + ", ".join(p.choices))
    return value


def _bounded(command: str, p: Param, name: str, number):
    if p.min is not None and number < p.min:
        raise invalid(command, name, number, f"must be at least {p.min:g}")
    if p.max is not None and number > p.max:
        raise invalid(command, name, number, f"must be at most {p.max:g}")
    return number


def resolve_uuid(session, command: str, p: Param, name: str, value: str):
    """Translate a uuid (or legacy numeric id) to the row it names; ``-1`` passes through."""
    value = value.strip()
    if value == "-1":
        return None
    model = p.entity
    if UUID_RE.match(value):
        row = session.scalar(select(model).where(model.uuid == value.lower()))
    elif value.isdigit() and hasattr(model, "id"):
        row = session.scalar(select(model).where(or_(model.uuid == value, model.id == int(value))))
    else:
        row = None
    if row is None:
        raise invalid(command, name, value, "incorrect long value format, or entity does not exist "
                      "or due to incorrect parameter annotation for the field in api cmd class.")
    return row


def parse_value(session, command: str, p: Param, value: str):
    if CONTROL_CHARS.search(value):
        raise invalid(command, p.wire, value.encode("unicode_escape").decode(), "control characters are not allowed")
    if p.type == "uuid":
        return resolve_uuid(session, command, p, p.wire, value) if value.strip() else None
    if p.type == "list":
        items = [item.strip() for item in value.split(",") if item.strip()]
        if p.item_type == "uuid":
            return [resolve_uuid(session, command, p, p.wire, item) for item in items]
        return [parse_scalar(command, p, p.wire, item, p.item_type) for item in items]
    if not value.strip() and (p.type in INT_BOUNDS or p.type in ("float", "double", "date", "tzdate")):
        return None  # an empty numeric or date value means "not given"
    return parse_scalar(command, p, p.wire, value)


def map_values(entries: dict[int, dict[str, str]] | None) -> list[dict[str, str]]:
    """The indexed entries of a map parameter, in index order."""
    return [entries[i] for i in sorted(entries)] if entries else []


def map_as_dict(entries: dict[int, dict[str, str]] | None) -> dict[str, str]:
    """A ``details``-style map as a flat dict: accepts both ``[i].key/[i].value`` and ``[0].k=v``."""
    result: dict[str, str] = {}
    for entry in map_values(entries):
        if set(entry) <= {"key", "value"} and "key" in entry:
            result[entry["key"]] = entry.get("value", "")
        else:
            result.update(entry)
    return result
