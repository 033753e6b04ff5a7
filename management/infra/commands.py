"""Zone commands (createZone and the rest arrive with the infrastructure issue)."""

from __future__ import annotations

from sqlalchemy import or_, select

from management.api.native.params import Param
from management.api.native.registry import ListCommand, ListResult, command
from management.api.native.responses import ResponseObject
from management.context import Context
from management.iam.models import Domain
from management.infra.models import Zone
from management.pagination import page


class ZoneResponse(ResponseObject):
    object_name = "zone"
    id: str
    name: str
    description: str | None = None
    dns1: str | None = None
    dns2: str | None = None
    internaldns1: str | None = None
    internaldns2: str | None = None
    ip6dns1: str | None = None
    ip6dns2: str | None = None
    guestcidraddress: str | None = None
    networktype: str
    securitygroupsenabled: bool = False
    localstorageenabled: bool = False
    allocationstate: str
    zonetoken: str | None = None
    dhcpprovider: str | None = None
    domainid: str | None = None
    domainname: str | None = None
    tags: list = []


def zone_view(zone: Zone, domains: dict[int, Domain], admin: bool) -> ZoneResponse:
    domain = domains.get(zone.domain_id) if zone.domain_id else None
    return ZoneResponse(
        id=zone.uuid, name=zone.name, description=zone.description, dns1=zone.dns1, dns2=zone.dns2,
        internaldns1=zone.internal_dns1 if admin else None, internaldns2=zone.internal_dns2 if admin else None,
        ip6dns1=zone.ip6_dns1, ip6dns2=zone.ip6_dns2, guestcidraddress=zone.guest_cidr,
        networktype=zone.network_type, securitygroupsenabled=zone.security_groups_enabled,
        localstorageenabled=zone.local_storage_enabled, allocationstate=zone.allocation_state,
        zonetoken=zone.zone_token if admin else None, dhcpprovider=zone.dhcp_provider,
        domainid=domain.uuid if domain else None, domainname=domain.name if domain else None)


@command("listZones", response=ZoneResponse, list_key="zone")
class ListZones(ListCommand):
    """Lists zones"""

    id = Param("uuid", entity=Zone, description="the ID of the zone")
    ids = Param("list", item_type="uuid", entity=Zone, description="the IDs of the zones, mutually exclusive with id")
    name = Param(description="the name of the zone")
    available = Param("boolean", default=False, description="true if you want to retrieve all available Zones. False "
                                                            "if you only want to return the Zones from which you have "
                                                            "at least one VM. Default is false.")
    networktype = Param(description="the network type of the zone that the virtual machine belongs to",
                        choices=("Basic", "Advanced"))
    domainid = Param("uuid", entity=Domain, description="the ID of the domain associated with the zone")
    showcapacities = Param("boolean", default=False, description="flag to display the capacity of the zones")

    def handle(self, ctx: Context) -> ListResult:
        query = select(Zone).where(Zone.removed.is_(None))
        if self.id is not None:
            query = query.where(Zone.id == self.id.id)
        if self.ids:
            query = query.where(Zone.id.in_([z.id for z in self.ids]))
        if self.name:
            query = query.where(Zone.name == self.name)
        if self.networktype:
            query = query.where(Zone.network_type == self.networktype)
        if self.keyword:
            query = query.where(or_(Zone.name.like(f"%{self.keyword}%"), Zone.description.like(f"%{self.keyword}%")))
        if not ctx.caller.is_root_admin:
            query = query.where(Zone.allocation_state == "Enabled")
            visible = select(Domain.id).where(Domain.path.in_(_ancestor_paths(ctx.caller.domain_path)))
            query = query.where(or_(Zone.domain_id.is_(None), Zone.domain_id.in_(visible)))
        offset, limit = self.window(ctx.session)
        rows, total = page(ctx.session, query.order_by(Zone.id), offset, limit)
        domain_ids = {z.domain_id for z in rows if z.domain_id}
        domains = {d.id: d for d in ctx.session.scalars(select(Domain).where(Domain.id.in_(domain_ids)))}
        return ListResult([zone_view(z, domains, ctx.caller.is_root_admin) for z in rows], total)


def _ancestor_paths(path: str) -> list[str]:
    """'/a/b/' -> ['/', '/a/', '/a/b/']: a zone dedicated to a domain is visible in its subtree."""
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
