"""The command registry: one declaration per API command.

A command is a class with ``Param`` attributes and an ``api`` declaration (name, sync or
async, response object, allowed role types). Parsing, validation, ``listApis``, role
checks and rendering all read that declaration. Handlers stay thin: they call a service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from management.api.native.params import Param, map_values, parse_value, split_maps
from management.errors import InvalidParameter, MissingParameter
from management.iam.models import Domain, RoleType

ALL_ROLES = RoleType.ALL
ADMINS = (RoleType.ADMIN,)
DOMAIN_ADMINS = (RoleType.ADMIN, RoleType.RESOURCE_ADMIN, RoleType.DOMAIN_ADMIN)


@dataclass(frozen=True)
class Api:
    name: str
    description: str = ""
    response: type[BaseModel] | None = None
    list_key: str | None = None  # item key of a list response (e.g. "account")
    is_async: bool = False
    creates: bool = False  # async-create: the response carries the new object's id as well
    roles: tuple[str, ...] = ALL_ROLES
    since: str | None = None
    java_class: str = ""  # CloudStack's command class name, shown in queryAsyncJobResult's cmd
    instance_type: str | None = None  # jobinstancetype of the async job
    related: tuple[str, ...] = ()
    event: str | None = None  # event type of an async command (Scheduled/Started/Completed rows)

    @property
    def readonly(self) -> bool:
        """Sync list/query/get commands change nothing and run in a read-only transaction."""
        return not self.is_async and self.name.startswith(("list", "query", "get"))


@dataclass
class Prepared:
    """What an async command's ``prepare`` step returns: the object it acts on (or created)."""

    instance: Any = None
    event_type: str | None = None


@dataclass
class Success:
    success: bool = True
    displaytext: str | None = None


@dataclass
class ListResult:
    items: list[BaseModel]
    count: int


@dataclass
class RawResponse:
    """Fields rendered directly under the response element (login, logout, async job results)."""

    fields: dict[str, Any]


@dataclass
class AsyncStarted:
    job_uuid: str
    object_uuid: str | None = None


class Command:
    """Base of every command: subclasses declare ``api`` and ``Param`` attributes."""

    api: ClassVar[Api]
    params: ClassVar[dict[str, Param]] = {}

    def __init__(self) -> None:
        self.maps: dict[str, dict[int, dict[str, str]]] = {}
        self.raw: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        collected: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, Param):
                    if "uuid" in (value.type, value.item_type) and value.entity is None:
                        raise TypeError(f"{cls.__name__}.{value.attr}: a uuid parameter needs its entity")
                    collected[value.wire] = value
                elif value is None and attr in collected:
                    del collected[attr]  # ``name = None`` in a subclass drops an inherited parameter
        cls.params = collected

    @classmethod
    def parse(cls, session, raw: dict[str, str], *, is_admin: bool = True) -> Command:
        """Validate raw request values against the declaration; 431 names the bad parameter."""
        cmd = cls()
        plain, maps = split_maps(raw)
        cmd.raw = plain
        command = cls.api.name.lower()
        for wire, p in cls.params.items():
            value = None
            if p.type == "map":
                if wire in maps:
                    value = maps[wire]
                elif p.required:
                    raise MissingParameter(command=command, param=wire)
            elif wire in plain and not (p.admin_only and not is_admin):
                value = parse_value(session, command, p, plain[wire])
                if value is None and p.required and p.type != "uuid":
                    raise MissingParameter(command=command, param=wire)
            elif p.required:
                raise MissingParameter(command=command, param=wire)
            if value is None:
                value = p.default
            setattr(cmd, p.attr, value)
        cmd.maps = maps
        cmd.validate()
        return cmd

    def validate(self) -> None:
        """Cross-parameter checks; override where a command has them."""

    def map_list(self, name: str) -> list[dict[str, str]]:
        return map_values(self.maps.get(name))

    def to_raw(self) -> dict[str, str]:
        """The request as received, for re-parsing in a worker (async jobs)."""
        return dict(self.raw)

    # handle(ctx) for sync commands; for async ones run(ctx) runs on the worker and the
    # optional create(ctx) runs in the request for async-create commands.


class ListCommand(Command):
    keyword = Param(description="List by keyword")
    page = Param("integer", min=1, description="")
    pagesize = Param("integer", description="")

    def validate(self) -> None:
        if self.pagesize is not None and self.page is None and self.pagesize != -1:
            raise InvalidParameter('"page" parameter is required when "pagesize" is specified')
        if self.pagesize is not None and self.pagesize != -1 and self.pagesize < 1:
            raise InvalidParameter(f"Page size can't be less than 1 or equal to 0 (pagesize={self.pagesize})")
        if self.pagesize == -1 and self.page is not None:
            raise InvalidParameter("Can't specify page parameter when pagesize is -1 (Unlimited)")


    def window(self, session) -> tuple[int, int | None]:
        """(offset, limit) of the requested page; the page size is capped by ``default.page.size``."""
        from management.config import service as config

        if self.pagesize == -1:
            return 0, None
        largest = config.get_int(session, "default.page.size")
        if self.pagesize is not None and self.pagesize > largest:
            raise InvalidParameter(f"Page size can't exceed max allowed page size value: {largest} (pagesize)")
        size = self.pagesize or largest
        return ((self.page or 1) - 1) * size, size


class ListDomainResourcesCommand(ListCommand):
    account = Param(description="list resources by account. Must be used with the domainId parameter.")
    domainid = Param("uuid", entity=Domain, description="list only resources belonging to the domain specified")
    isrecursive = Param("boolean", default=False,
                        description="defaults to false, but if true, lists all resources from the parent specified by "
                                    "the domainId till leaves.")
    listall = Param("boolean", default=False,
                    description="If set to false, list only resources belonging to the command's caller; if set to "
                                "true - list resources that the caller is authorized to see. Default value is false")

    def validate(self) -> None:
        super().validate()
        if self.account is not None and self.domainid is None:
            raise InvalidParameter("Account name is specified, but domain id is not")


@dataclass
class Registry:
    commands: dict[str, type[Command]] = field(default_factory=dict)

    def add(self, cls: type[Command]) -> type[Command]:
        name = cls.api.name
        if name in self.commands:
            raise RuntimeError(f"command {name} declared twice")
        self.commands[name] = cls
        return cls

    def get(self, name: str) -> type[Command] | None:
        return self.commands.get(name)


registry = Registry()


def command(name: str, **kwargs) -> Callable[[type[Command]], type[Command]]:
    """Declare a command class: ``@command("listZones", response=ZoneResponse, list_key="zone")``."""

    def wrap(cls: type[Command]) -> type[Command]:
        if cls.__doc__ and "description" not in kwargs:
            kwargs["description"] = " ".join(cls.__doc__.split())
        cls.api = Api(name=name, **kwargs)
        return registry.add(cls)

    return wrap
