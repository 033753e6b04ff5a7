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
from management.iam.models import Account, Domain
from management.infra.models import Cluster, Zone
from management.storage.models import ImageStore, StoragePool

# scope parameter -> the scope it names, as CloudStack's updateConfiguration takes them
SCOPE_PARAMS = {"zoneid": "zone", "clusterid": "cluster", "storageid": "storagepool", "accountid": "account",
                "domainid": "domain", "imagestoreuuid": "imagestore", "imagestoreid": "imagestore"}


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


def view(row: Configuration, value: str | None = None, *, scoped: bool = False) -> ConfigurationResponse:
    """``value``/``scoped``: the value in force for the resource a scoped request named."""
    key = config.CATALOG.get(row.name)
    secret = key is not None and key.secure
    value = value if scoped else row.value
    return ConfigurationResponse(
        name=row.name, value="******" if secret and value else value, defaultvalue=row.default_value,
        category=row.category, description=row.description, scope=row.scope, isdynamic=row.is_dynamic,
        type=key.type if key else "String", options=",".join(key.options) if key and key.options else None,
        component=row.component, group=key.group if key else None, subgroup=key.subgroup if key else None,
        displaytext=row.name.replace(".", " ").title())


def _scope_of(cmd: Command) -> tuple[str, int] | None:
    """The (scope, resource id) one scope parameter names; None for a global request; 431 for several or for a
    removed resource."""
    given = [name for name in SCOPE_PARAMS if getattr(cmd, name, None) is not None]
    if not given:
        return None
    if len(given) > 1:
        raise InvalidParameter(f"cannot handle multiple IDs, provide only one ID corresponding to the scope "
                               f"(given: {', '.join(given)})")
    row = getattr(cmd, given[0])
    if getattr(row, "removed", None) is not None:
        raise InvalidParameter(f"Unable to find the resource given by {given[0]}={row.uuid}: it was removed")
    return SCOPE_PARAMS[given[0]], row.id


def _scope_param(model, what: str, action: str) -> Param:
    return Param("uuid", entity=model, description=f"the ID of the {what} to {action} the parameter value for "
                                                   f"corresponding {what.lower()}")


@command("listConfigurations", response=ConfigurationResponse, list_key="configuration", roles=ADMINS)
class ListConfigurations(ListCommand):
    """Lists all configurations."""

    name = Param(description="lists configuration by name")
    category = Param(description="lists configurations by category")
    group = Param(description="lists configuration by group name")
    subgroup = Param(description="lists configuration by subgroup name")
    zoneid = _scope_param(Zone, "Zone", "list")
    clusterid = _scope_param(Cluster, "Cluster", "list")
    storageid = _scope_param(StoragePool, "Storage pool", "list")
    accountid = _scope_param(Account, "Account", "list")
    domainid = _scope_param(Domain, "Domain", "list")
    imagestoreuuid = _scope_param(ImageStore, "Image Store", "list")

    def handle(self, ctx: Context) -> ListResult:
        offset, limit = self.window(ctx.session)
        scope = _scope_of(self)
        rows, total = config.list_configurations(ctx.session, name=self.name, category=self.category,
                                                 keyword=self.keyword, offset=offset, limit=limit,
                                                 scope=scope[0] if scope else None)
        if scope is None:
            return ListResult([view(r) for r in rows], total)
        arg = {config.SCOPE_ARGS[scope[0]]: scope[1]}
        return ListResult([view(r, config.get_value(ctx.session, r.name, **arg), scoped=True) for r in rows], total)


@command("updateConfiguration", response=ConfigurationResponse, roles=ADMINS)
class UpdateConfiguration(Command):
    """Updates a configuration."""

    name = Param(required=True, description="the name of the configuration")
    value = Param(length=4096, description="the value of the configuration")
    zoneid = _scope_param(Zone, "Zone", "update")
    clusterid = _scope_param(Cluster, "Cluster", "update")
    storageid = _scope_param(StoragePool, "Storage pool", "update")
    accountid = _scope_param(Account, "Account", "update")
    domainid = _scope_param(Domain, "Domain", "update")
    imagestoreuuid = _scope_param(ImageStore, "Image Store", "update")

    def handle(self, ctx: Context) -> ConfigurationResponse:
        scope = _scope_of(self)
        if scope is None:
            row = config.update(ctx.session, self.name, self.value)
            value, where = row.value, ""
        else:
            value = config.update_scoped(ctx.session, self.name, self.value, *scope)
            row, where = ctx.session.get(Configuration, self.name), f", Scope: {scope[0]} {scope[1]}"
        shown = "******" if config.CATALOG[self.name].secure else value
        events.record(ctx.session, ctx.caller, "CONFIGURATION.VALUE.EDIT",
                      f"Successfully edited Configuration value. Name: {self.name}, Value: {shown}{where}")
        return view(row, value, scoped=True)


@command("resetConfiguration", response=ConfigurationResponse, roles=ADMINS)
class ResetConfiguration(Command):
    """Resets a configuration. The configuration will be set to default value for global setting"""

    name = Param(required=True, description="the name of the configuration")
    zoneid = _scope_param(Zone, "Zone", "reset")
    clusterid = _scope_param(Cluster, "Cluster", "reset")
    storageid = _scope_param(StoragePool, "Storage pool", "reset")
    accountid = _scope_param(Account, "Account", "reset")
    domainid = _scope_param(Domain, "Domain", "reset")
    imagestoreid = _scope_param(ImageStore, "Image Store", "reset")

    def handle(self, ctx: Context) -> ConfigurationResponse:
        scope = _scope_of(self)
        if scope is None:
            row = config.reset(ctx.session, self.name)
            value, where = row.value, ""
        else:
            value = config.reset_scoped(ctx.session, self.name, *scope)
            row, where = ctx.session.get(Configuration, self.name), f", Scope: {scope[0]} {scope[1]}"
        events.record(ctx.session, ctx.caller, "CONFIGURATION.VALUE.EDIT",
                      f"Successfully reset Configuration value. Name: {self.name}{where}")
        return view(row, value, scoped=True)
