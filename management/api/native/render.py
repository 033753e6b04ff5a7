"""CloudStack's JSON and XML envelopes (response=json | xml; XML is the default)."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape

from pydantic import BaseModel

from management.api.native.registry import AsyncStarted, ListResult, RawResponse, Success
from management.errors import CloudError
from management.version import CLOUDSTACK_VERSION

JSON_TYPE = "application/json; charset=UTF-8"
XML_TYPE = "text/xml; charset=UTF-8"
XML_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_none=True, by_alias=True)


def body_of(result: Any, *, sync: bool = False) -> dict[str, Any]:
    """The dict under ``<command>response`` for any handler result. As CloudStack serializes them, a sync
    command's ``success`` is the string "true"/"false" (Libcloud compares with "true"); in an async job's
    result it is a JSON boolean."""
    if isinstance(result, ListResult):
        body: dict[str, Any] = {}
        if result.count:
            body["count"] = result.count
        if result.items:
            body[type(result.items[0]).object_name] = [dump(item) for item in result.items]
        return body
    if isinstance(result, BaseModel):
        return {type(result).object_name: dump(result)}
    if isinstance(result, Success):
        body = {"success": ("true" if result.success else "false") if sync else result.success}
        if result.displaytext:
            body["displaytext"] = result.displaytext
        return body
    if isinstance(result, RawResponse):
        return result.fields
    if isinstance(result, AsyncStarted):
        body = {"jobid": result.job_uuid}
        if result.object_uuid:
            body = {"id": result.object_uuid, "jobid": result.job_uuid}
        return body
    if isinstance(result, dict):
        return result
    raise TypeError(f"cannot render {type(result).__name__}")


def error_body(error: CloudError) -> dict[str, Any]:
    return {"uuidList": [], "errorcode": error.code, "cserrorcode": error.cs_code, "errortext": error.message}


def response_name(command: str | None) -> str:
    return f"{command.lower()}response" if command else "errorresponse"


def render(command: str | None, body: dict[str, Any], fmt: str) -> tuple[bytes, str]:
    name = response_name(command)
    if fmt == "json":
        return json.dumps({name: body}, ensure_ascii=False, separators=(",", ":")).encode(), JSON_TYPE
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f'<{name} cloud-stack-version="{CLOUDSTACK_VERSION}">']
    _xml_fields(out, body)
    out.append(f"</{name}>")
    return "".join(out).encode(), XML_TYPE


def _xml_fields(out: list[str], body: dict[str, Any]) -> None:
    for key, value in body.items():
        tag = XML_NAME.sub("_", str(key)) or "_"
        if isinstance(value, list):
            for item in value:
                _xml_value(out, tag, item)
        elif key == "uuidList":
            continue
        else:
            _xml_value(out, tag, value)


def _xml_value(out: list[str], tag: str, value: Any) -> None:
    if isinstance(value, dict):
        out.append(f"<{tag}>")
        _xml_fields(out, value)
        out.append(f"</{tag}>")
    elif isinstance(value, bool):
        out.append(f"<{tag}>{'true' if value else 'false'}</{tag}>")
    elif value is None:
        return
    else:
        out.append(f"<{tag}>{escape(str(value))}</{tag}>")


def response_format(raw_value: str | None) -> str:
    return "json" if raw_value is not None and raw_value.lower() == "json" else "xml"
