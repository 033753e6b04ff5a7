"""Global settings commands."""

from __future__ import annotations

from management.api.native.params import Param
from management.api.native.registry import ADMINS, Command, ListCommand, ListResult, command
from management.api.native.responses import ResponseObject
from management.config import service as config
from management.config.models import Configuration
from management.context import Context
from management.errors import InvalidParameter
from management.events import service as events

SCOPE_PARAMS = ("zoneid", "clusterid", "storageid", "accountid", "domainid", "imagestoreuuid")


class ConfigurationResponse(ResponseObject):
    object_name = "configuration"
    name: str
    value: str | None = None
    defaultvalue: str | None = None
    category: str | None = None
    description: str | None = None
    scope: str | None = None
    isdynamic: bool | None = None
    type: str | None = None
    options: str | None = None
    component: str | None = None
    group: str | None = None
    subgroup: str | None = None
    displaytext: str | None = None


def view(row: Configuration) -> ConfigurationResponse:
    key = config.CATALOG.get(row.name)
    secret = key is not None and key.secure
    return ConfigurationResponse(
        name=row.name, value="******" if secret and row.value else row.value, defaultvalue=row.default_value,
        category=row.category, description=row.description, scope=row.scope, isdynamic=row.is_dynamic,
        type=key.type if key else "String", options=",".join(key.options) if key and key.options else None,
        component=row.component, group=key.group if key else None, subgroup=key.subgroup if key else None,
        displaytext=row.name.replace(".", " ").title())


def _no_scopes(cmd: Command) -> None:
    for name in SCOPE_PARAMS:
        if cmd.raw.get(name):
            raise InvalidParameter(f"Scoped settings are not supported yet: parameter {name} (only global values)")


@command("listConfigurations", response=ConfigurationResponse, list_key="configuration", roles=ADMINS)
class ListConfigurations(ListCommand):
    """Lists all configurations."""

    name = Param(description="lists configuration by name")
    category = Param(description="lists configurations by category")
    group = Param(description="lists configuration by group name")
    subgroup = Param(description="lists configuration by subgroup name")
    zoneid = Param(description="the ID of the Zone to update the parameter value for corresponding zone")
    clusterid = Param(description="the ID of the Cluster to update the parameter value for corresponding cluster")
    storageid = Param(description="the ID of the Storage pool to update the parameter value for corresponding "
                                  "storage pool")
    accountid = Param(description="the ID of the Account to update the parameter value for corresponding account")
    domainid = Param(description="the ID of the Domain to update the parameter value for corresponding domain")

    def handle(self, ctx: Context) -> ListResult:
        offset, limit = self.window(ctx.session)
        rows, total = config.list_configurations(ctx.session, name=self.name, category=self.category,
                                                 keyword=self.keyword, offset=offset, limit=limit)
        return ListResult([view(r) for r in rows], total)


@command("updateConfiguration", response=ConfigurationResponse, roles=ADMINS)
class UpdateConfiguration(Command):
    """Updates a configuration."""

    name = Param(required=True, description="the name of the configuration")
    value = Param(length=4096, description="the value of the configuration")
    zoneid = Param(description="the ID of the Zone to update the parameter value for corresponding zone")
    clusterid = Param(description="the ID of the Cluster to update the parameter value for corresponding cluster")
    storageid = Param(description="the ID of the Storage pool to update the parameter value for corresponding "
                                  "storage pool")
    accountid = Param(description="the ID of the Account to update the parameter value for corresponding account")
    domainid = Param(description="the ID of the Domain to update the parameter value for corresponding domain")

    def handle(self, ctx: Context) -> ConfigurationResponse:
        _no_scopes(self)
        row = config.update(ctx.session, self.name, self.value)
        shown = "******" if config.CATALOG[self.name].secure else self.value
        events.record(ctx.session, ctx.caller, "CONFIGURATION.VALUE.EDIT",
                      f"Successfully edited Configuration value. Name: {self.name}, Value: {shown}")
        return view(row)


@command("resetConfiguration", response=ConfigurationResponse, roles=ADMINS)
class ResetConfiguration(Command):
    """Resets a configuration. The configuration will be set to default value for global setting"""

    name = Param(required=True, description="the name of the configuration")
    zoneid = Param(description="the ID of the Zone to reset the parameter value for corresponding zone")
    clusterid = Param(description="the ID of the Cluster to reset the parameter value for corresponding cluster")
    storageid = Param(description="the ID of the Storage pool to reset the parameter value")
    accountid = Param(description="the ID of the Account to reset the parameter value for corresponding account")
    domainid = Param(description="the ID of the Domain to reset the parameter value for corresponding domain")

    def handle(self, ctx: Context) -> ConfigurationResponse:
        _no_scopes(self)
        row = config.reset(ctx.session, self.name)
        events.record(ctx.session, ctx.caller, "CONFIGURATION.VALUE.EDIT",
                      f"Successfully reset Configuration value. Name: {self.name}")
        return view(row)
