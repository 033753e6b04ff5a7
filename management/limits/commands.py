"""listResourceLimits, updateResourceLimit, updateResourceCount."""

from __future__ import annotations

from sqlalchemy.orm import Session

from management.api.native.params import Param
from management.api.native.registry import DOMAIN_ADMINS, Command, ListCommand, ListResult, command
from management.api.native.responses import ResponseObject
from management.context import Context
from management.errors import InvalidParameter
from management.iam.models import Domain
from management.iam.responses import domain_display_path
from management.limits import service as limits

TYPE_NAMES = tuple(t.name for t in limits.RESOURCE_TYPES)


class ResourceLimitResponse(ResponseObject):
    object_name = "resourcelimit"
    resourcetype: str
    resourcetypename: str
    max: int
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None


class ResourceCountResponse(ResponseObject):
    object_name = "resourcecount"
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None
    resourcetype: str
    resourcetypename: str
    resourcecount: int


def limit_view(entry: limits.LimitEntry) -> ResourceLimitResponse:
    rtype = entry.rtype
    return ResourceLimitResponse(
        resourcetype=str(rtype.number), resourcetypename=rtype.name,
        max=entry.max if entry.max == limits.UNLIMITED else entry.max // rtype.unit,
        account=entry.account.account_name if entry.account else None,
        domainid=entry.domain.uuid if entry.domain else None, domain=entry.domain.name if entry.domain else None,
        domainpath=domain_display_path(entry.domain) if entry.domain else None)


def _types(resourcetype: int | None, resourcetypename: str | None) -> list[limits.ResourceType] | None:
    if resourcetype is not None and resourcetypename is not None:
        raise InvalidParameter("Please specify either resourcetype or resourcetypename, not both")
    if resourcetype is not None:
        return [limits.resource_type(resourcetype)]
    if resourcetypename is not None:
        return [limits.resource_type(resourcetypename, "resourcetypename")]
    return None


def _count_views(session: Session, account, domain: Domain, counts: dict[str, int]) -> list[ResourceCountResponse]:
    return [ResourceCountResponse(
        account=account.account_name if account else None, domainid=domain.uuid, domain=domain.name,
        domainpath=domain_display_path(domain), resourcetype=str(limits.BY_NAME[name].number), resourcetypename=name,
        resourcecount=count // limits.BY_NAME[name].unit) for name, count in counts.items()]


@command("listResourceLimits", response=ResourceLimitResponse, list_key="resourcelimit")
class ListResourceLimits(ListCommand):
    """Lists resource limits."""

    id = Param("long", description="Lists resource limits by ID.")
    resourcetype = Param("integer", min=0, max=len(limits.RESOURCE_TYPES) - 1,
                         description="Type of resource. Values are 0, 1, 2, 3, 4, 6, 7, 8, 9, 10 and 11. 0 - "
                                     "Instance. Number of instances a user can create. 1 - IP. Number of public IP "
                                     "addresses an account can own. 2 - Volume. 3 - Snapshot. 4 - Template. 5 - "
                                     "Project. 6 - Network. 7 - VPC. 8 - CPU. 9 - Memory. 10 - PrimaryStorage. 11 - "
                                     "SecondaryStorage.")
    resourcetypename = Param(choices=TYPE_NAMES, description="Type of resource (wins over resourceType if both are "
                                                             "provided). Values are: user_vm, public_ip, volume, "
                                                             "snapshot, template, project, network, vpc, cpu, "
                                                             "memory, primary_storage, secondary_storage")
    account = Param(description="list resources by account. Must be used with the domainId parameter.")
    domainid = Param("uuid", entity=Domain, description="list only resources belonging to the domain specified")
    isrecursive = Param("boolean", default=False, description="defaults to false, but if true, lists all resources "
                                                              "from the parent specified by the domainId till leaves.")
    listall = Param("boolean", default=False, description="If set to false, list only resources belonging to the "
                                                          "command's caller; if set to true - list resources that "
                                                          "the caller is authorized to see.")

    def handle(self, ctx: Context) -> ListResult:
        types = _types(self.resourcetype if self.resourcetypename is None else None, self.resourcetypename)
        entries = limits.list_limits(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                     recursive=self.isrecursive, types=types, limit_id=self.id)
        offset, limit = self.window(ctx.session)
        window = entries[offset:offset + limit if limit is not None else None]
        return ListResult([limit_view(e) for e in window], len(entries))


@command("updateResourceLimit", response=ResourceLimitResponse, roles=DOMAIN_ADMINS)
class UpdateResourceLimit(Command):
    """Updates resource limits for an account or domain."""

    resourcetype = Param("integer", required=True, min=0, max=len(limits.RESOURCE_TYPES) - 1,
                         description="Type of resource to update. Values are 0, 1, 2, 3, 4, 6, 7, 8, 9, 10 and 11.")
    max = Param("long", description="Maximum resource limit.")
    account = Param(description="Update resource for a specified account. Must be used with the domainId "
                                "parameter.")
    domainid = Param("uuid", entity=Domain, description="Update resource limits for all accounts in specified "
                                                        "domain. If used with the account parameter, updates "
                                                        "resource limits for a specified account in specified "
                                                        "domain.")

    def handle(self, ctx: Context) -> ResourceLimitResponse:
        domain = self.domainid
        if self.account is not None and domain is None:
            raise InvalidParameter("Account name is specified, but domain id is not (parameter domainid)")
        entry = limits.update_limit(ctx.session, ctx.caller, resource=self.resourcetype, max_value=self.max,
                                    account_name=self.account, domain=domain)
        return limit_view(entry)


@command("updateResourceCount", response=ResourceCountResponse, list_key="resourcecount", roles=DOMAIN_ADMINS)
class UpdateResourceCount(Command):
    """Recalculate and update resource count for an account or domain. This also executes some cleanup tasks
    before calculating resource counts."""

    domainid = Param("uuid", entity=Domain, required=True, description="If account parameter specified then "
                                                                       "updates resource counts for a specified "
                                                                       "account in this domain else update resource "
                                                                       "counts for all accounts & child domains in "
                                                                       "specified domain.")
    account = Param(description="Update resource count for a specified account. Must be used with the domainId "
                                "parameter.")
    resourcetype = Param("integer", min=0, max=len(limits.RESOURCE_TYPES) - 1,
                         description="Type of resource to update. If specifies valid values for this parameter, "
                                     "only the specified resource count will be updated; otherwise all.")

    def handle(self, ctx: Context) -> ListResult:
        types = _types(self.resourcetype, None)
        account, counts = limits.update_counts(ctx.session, ctx.caller, domain=self.domainid,
                                               account_name=self.account, types=types)
        views = _count_views(ctx.session, account, self.domainid, counts)
        return ListResult(views, len(views))
