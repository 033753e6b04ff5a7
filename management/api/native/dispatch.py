"""The native API door: authenticate, find the command, check the role, parse, run, render.

Everything here is synchronous and runs in a worker thread of the web server; the HTTP
layer (``router.py``) only turns requests into ``ApiRequest`` and ``ApiReply`` into responses.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from management.api.native import auth
from management.api.native.registry import AsyncStarted, RawResponse, registry
from management.api.native.render import body_of, error_body, render, response_format
from management.context import Context
from management.db import db
from management.errors import CloudError, InternalError, UnknownCommand, UnsupportedCommand
from management.iam import permissions
from management.jobs import service as jobs

log = logging.getLogger(__name__)
SECRET_PARAMS = {"password", "currentpassword", "secretkey", "usersecretkey", "signature", "apikey", "userapikey",
                 "sessionkey", "userdata"}


@dataclass
class ApiRequest:
    params: dict[str, str]
    method: str = "GET"
    cookies: dict[str, str] = field(default_factory=dict)
    integration: bool = False
    remote: str = ""


@dataclass
class ApiReply:
    status: int
    body: bytes
    content_type: str
    cookies: list[tuple[str, str, dict]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def masked(params: dict[str, str]) -> dict[str, str]:
    return {k: ("*****" if k.lower() in SECRET_PARAMS else v) for k, v in params.items()}


def handle(request: ApiRequest) -> ApiReply:
    params = request.params
    name = params.get("command")
    fmt = response_format(params.get("response"))
    request_id = uuid.uuid4().hex[:12]
    reply = ApiReply(200, b"", "")
    try:
        if name in auth.SESSION_COMMANDS and not request.integration:
            body = auth.session_command(name, request, reply)
        else:
            body = _run(name, request, request_id)
    except CloudError as error:
        return _error(name, error, fmt, request, reply)
    except Exception:
        log.exception("request %s failed: %s", request_id, masked(params))
        return _error(name, InternalError("Internal error executing command, please contact your system "
                                          "administrator"), fmt, request, reply)
    reply.body, reply.content_type = render(name, body, fmt)
    return reply


def _error(name, error: CloudError, fmt: str, request: ApiRequest, reply: ApiReply) -> ApiReply:
    known = name in auth.SESSION_COMMANDS or (name and registry.get(name) is not None)
    top = name if known and not isinstance(error, (UnknownCommand, UnsupportedCommand)) else None
    if isinstance(error, UnknownCommand) and not request.integration:
        top = name if name else None
    reply.status = error.code
    reply.body, reply.content_type = render(top, error_body(error), fmt)
    reply.headers["X-Description"] = error.message.encode("ascii", "replace").decode()[:1024]
    if error.code >= 500 or error.code == 401:
        log.info("api error %s %s: %s %s", error.code, name, error.message, masked(request.params))
    return reply


def _run(name: str | None, request: ApiRequest, request_id: str) -> dict:
    cls = registry.get(name) if name else None
    with (db.read_session() if cls is not None and cls.api.readonly else db.session()) as session:
        caller = auth.authenticate(session, request)
        if cls is None or not permissions.is_allowed(session, caller, cls.api.name, cls.api.roles):
            if request.integration:
                raise UnsupportedCommand(command=name)
            raise UnknownCommand(command=name)
        cmd = cls.parse(session, request.params, is_admin=caller.is_admin)
        ctx = Context(session=session, caller=caller, command=name, request_id=request_id,
                      integration=request.integration)
        if not cls.api.is_async:
            return body_of(cmd.handle(ctx), sync=True)
        return body_of(_start_job(ctx, cmd))


def _start_job(ctx: Context, cmd) -> AsyncStarted | RawResponse:
    """Async commands: validate now (and create the row for async-create), run on a worker."""
    api = type(cmd).api
    prepared = cmd.prepare(ctx) if hasattr(cmd, "prepare") else None
    instance = getattr(prepared, "instance", None)
    job = jobs.submit(ctx.session, ctx.caller, api, cmd.to_raw() | _map_raw(cmd), instance=instance,
                      event_type=getattr(prepared, "event_type", None) or api.event)
    return AsyncStarted(job.uuid, instance.uuid if api.creates and instance is not None else None)


def _map_raw(cmd) -> dict[str, str]:
    raw: dict[str, str] = {}
    for name, entries in cmd.maps.items():
        for index, fields in entries.items():
            for key, value in fields.items():
                raw[f"{name}[{index}].{key}"] = value
    return raw
