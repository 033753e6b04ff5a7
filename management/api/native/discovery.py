"""listApis (generated from the command registry) and listCapabilities."""

from __future__ import annotations

import typing
from functools import lru_cache

from management.api.native.params import Param
from management.api.native.registry import Command, RawResponse, command, registry
from management.api.native.responses import ResponseObject
from management.config import service as config
from management.context import Context
from management.errors import InvalidParameter
from management.iam import permissions
from management.version import CLOUDSTACK_VERSION

PY_TO_CS = {str: "string", int: "integer", bool: "boolean", float: "float", list: "list", dict: "map"}


class ApiParamResponse(ResponseObject):
    object_name = "params"
    name: str
    description: str = ""
    type: str
    length: int | None = None
    required: bool = False
    since: str | None = None
    related: str = ""


class ApiFieldResponse(ResponseObject):
    object_name = "response"
    name: str
    description: str = ""
    type: str


class ApiResponse(ResponseObject):
    object_name = "api"
    name: str
    description: str = ""
    isasync: bool = False
    since: str | None = None
    type: str | None = None
    related: str = ""
    params: list[ApiParamResponse] = []
    response: list[ApiFieldResponse] = []


def _cs_type(annotation) -> str:
    for arg in typing.get_args(annotation) or (annotation,):
        origin = typing.get_origin(arg) or arg
        if origin in PY_TO_CS:
            return PY_TO_CS[origin]
    return "object"


def _param_view(p: Param) -> ApiParamResponse:
    kind = "uuid" if p.type == "uuid" else p.type
    return ApiParamResponse(name=p.wire, description=p.description, type=kind,
                            length=p.length if p.type == "string" else None, required=p.required, since=p.since)


@lru_cache(maxsize=None)
def api_view(name: str) -> ApiResponse:
    cls = registry.get(name)
    api = cls.api
    fields = []
    if api.response is not None:
        fields = [ApiFieldResponse(name=field, description=info.description or "", type=_cs_type(info.annotation))
                  for field, info in api.response.model_fields.items()]
    elif not api.is_async or api.response is None:
        fields = [ApiFieldResponse(name="success", description="true if operation is executed successfully",
                                   type="boolean"),
                  ApiFieldResponse(name="displaytext", description="any text associated with the success or failure",
                                   type="string")]
    return ApiResponse(name=api.name, description=api.description, isasync=api.is_async, since=api.since,
                       type=api.response.object_name if api.response else None, related=",".join(api.related),
                       params=[_param_view(p) for p in cls.params.values() if not p.admin_only],
                       response=fields)


@command("listApis", response=ApiResponse, list_key="api")
class ListApis(Command):
    """lists all available apis on the server, provided by the Api Discovery plugin"""

    name = Param(description="API name")

    def handle(self, ctx: Context) -> RawResponse:
        names = sorted(registry.commands) + ["login", "logout"]
        allowed = [n for n in names if n in ("login", "logout") or
                   permissions.is_allowed(ctx.session, ctx.caller, n, registry.get(n).api.roles)]
        if self.name:
            if self.name not in allowed:
                raise InvalidParameter(f"Api Name: {self.name} does not exist or not allowed for the caller "
                                       "(parameter name)")
            allowed = [self.name]
        return RawResponse({"count": len(allowed), "api": [api_dict(n) for n in allowed]})


@lru_cache(maxsize=None)
def api_dict(name: str) -> dict:
    """The rendered listApis entry of one command (declarations do not change while running)."""
    view = _session_api(name) if name in ("login", "logout") else api_view(name)
    return view.model_dump(exclude_none=True)


def _session_api(name: str) -> ApiResponse:
    if name == "login":
        params = [ApiParamResponse(name="username", type="string", required=True, description="Username"),
                  ApiParamResponse(name="password", type="string", required=True,
                                   description="Hashed password (Default is MD5). If you wish to use any other hashing "
                                               "algorithm, you would need to write a custom authentication adapter."),
                  ApiParamResponse(name="domain", type="string", description="Path of the domain that the user "
                                                                             "belongs to. Example: domain=/com/cloud/"),
                  ApiParamResponse(name="domainId", type="long", description="The id of the domain that the user "
                                                                             "belongs to.")]
        return ApiResponse(name="login", description="Logs a user into the CloudStack. A successful login attempt will "
                                                     "generate a JSESSIONID cookie value that can be passed in "
                                                     "subsequent Query command calls until the \"logout\" command has "
                                                     "been issued or the session has expired.", params=params,
                           response=[ApiFieldResponse(name="sessionkey", type="string",
                                                      description="Session key that can be passed in subsequent Query "
                                                                  "command calls")])
    return ApiResponse(name="logout", description="Logs out the user",
                       response=[ApiFieldResponse(name="description", type="string", description="Response description")])


class CapabilityResponse(ResponseObject):
    object_name = "capability"
    cloudstackversion: str
    securitygroupsenabled: bool
    userpublictemplateenabled: bool
    supportELB: str = "false"
    projectinviterequired: bool
    allowusercreateprojects: bool
    customdiskofferingminsize: int
    customdiskofferingmaxsize: int
    kvmsnapshotenabled: bool
    apilimitinterval: int | None = None
    apilimitmax: int | None = None
    allowuserviewdestroyedvm: bool
    allowuserexpungerecovervm: bool
    dynamicrolesenabled: bool = True
    defaultuipagesize: int
    regionsecondaryenabled: bool = False
    kubernetesserviceenabled: bool = False


@command("listCapabilities", response=CapabilityResponse)
class ListCapabilities(Command):
    """Lists capabilities"""

    def handle(self, ctx: Context) -> CapabilityResponse:
        from sqlalchemy import select

        from management.infra.models import Zone

        s = ctx.session
        sg = s.scalar(select(Zone.id).where(Zone.security_groups_enabled.is_(True), Zone.removed.is_(None)).limit(1))
        throttled = config.get_bool(s, "api.throttling.enabled")
        mine = ctx.caller.account_id
        return CapabilityResponse(
            cloudstackversion=CLOUDSTACK_VERSION, securitygroupsenabled=sg is not None,
            userpublictemplateenabled=config.get_bool(s, "allow.public.user.templates", account=mine),
            projectinviterequired=config.get_bool(s, "project.invite.required"),
            allowusercreateprojects=config.get_bool(s, "allow.user.create.projects"),
            customdiskofferingminsize=config.get_int(s, "custom.diskoffering.size.min"),
            customdiskofferingmaxsize=config.get_int(s, "custom.diskoffering.size.max"),
            kvmsnapshotenabled=config.get_bool(s, "kvm.snapshot.enabled"),
            apilimitinterval=config.get_int(s, "api.throttling.interval") if throttled else None,
            apilimitmax=config.get_int(s, "api.throttling.max") if throttled else None,
            allowuserviewdestroyedvm=config.get_bool(s, "allow.user.view.destroyed.vm", account=mine),
            allowuserexpungerecovervm=config.get_bool(s, "allow.user.expunge.recover.vm", account=mine),
            defaultuipagesize=20)
