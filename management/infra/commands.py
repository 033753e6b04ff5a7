"""Zone, pod, IP range and capacity commands."""

from __future__ import annotations

from sqlalchemy import or_, select

from management.api.native.params import Param
from management.api.native.registry import ADMINS, Command, ListCommand, ListResult, Success, command
from management.context import Context
from management.errors import InvalidParameter
from management.iam.models import Account, Domain
from management.infra import capacity, ips, zones
from management.infra.models import Cluster, Pod, VlanRange, Zone
from management.infra.responses import (
    CapacityResponse,
    ListedVlanIpRange,
    PodResponse,
    VlanIpRangeResponse,
    ZoneResponse,
    capacity_views,
    pod_views,
    vlan_views,
    zone_views,
)
from management.network import networks
from management.network.models import Network, PhysicalNetwork
from management.pagination import page

ALLOCATION = ("Enabled", "Disabled")


@command("createZone", response=ZoneResponse, roles=ADMINS)
class CreateZone(Command):
    """Creates a Zone."""

    name = Param(required=True, description="the name of the Zone")
    networktype = Param(required=True, choices=("Basic", "Advanced"), description="network type of the zone, can be "
                                                                                 "Basic or Advanced")
    dns1 = Param(required=True, description="the first DNS for the Zone")
    internaldns1 = Param(required=True, description="the first internal DNS for the Zone")
    dns2 = Param(description="the second DNS for the Zone")
    internaldns2 = Param(description="the second internal DNS for the Zone")
    ip6dns1 = Param(description="the first DNS for IPv6 network in the Zone")
    ip6dns2 = Param(description="the second DNS for IPv6 network in the Zone")
    guestcidraddress = Param(description="the guest CIDR address for the Zone")
    domain = Param(description="Network domain name for the networks in the zone")
    domainid = Param("uuid", entity=Domain, description="the ID of the containing domain, null for public zones")
    securitygroupenabled = Param("boolean", default=False, description="true if network is security group enabled")
    localstorageenabled = Param("boolean", default=False, description="true if local storage offering enabled")
    allocationstate = Param(choices=ALLOCATION, description="Allocation state of this Zone for allocation of new "
                                                            "resources")

    def handle(self, ctx: Context) -> ZoneResponse:
        zone = zones.create_zone(
            ctx.session, ctx.caller, name=self.name, network_type=self.networktype, dns1=self.dns1,
            internal_dns1=self.internaldns1, dns2=self.dns2, internal_dns2=self.internaldns2, ip6_dns1=self.ip6dns1,
            ip6_dns2=self.ip6dns2, guest_cidr=self.guestcidraddress, security_groups=self.securitygroupenabled,
            local_storage=self.localstorageenabled, allocation_state=self.allocationstate, domain=self.domainid,
            network_domain=self.domain)
        return zone_views(ctx.session, [zone], admin=True)[0]


@command("updateZone", response=ZoneResponse, roles=ADMINS)
class UpdateZone(Command):
    """Updates a Zone."""

    id = Param("uuid", entity=Zone, required=True, description="the ID of the Zone")
    name = Param(description="the name of the Zone")
    allocationstate = Param(choices=ALLOCATION, description="Allocation state of this cluster for allocation of new "
                                                            "resources")
    dns1 = Param(description="the first DNS for the Zone")
    dns2 = Param(description="the second DNS for the Zone")
    internaldns1 = Param(description="the first internal DNS for the Zone")
    internaldns2 = Param(description="the second internal DNS for the Zone")
    ip6dns1 = Param(description="the first DNS for IPv6 network in the Zone")
    ip6dns2 = Param(description="the second DNS for IPv6 network in the Zone")
    guestcidraddress = Param(description="the guest CIDR address for the Zone")
    localstorageenabled = Param("boolean", description="true if local storage offering enabled, false otherwise")
    domain = Param(description="Network domain name for the networks in the zone; empty string will update domain "
                               "with NULL value")
    dhcpprovider = Param(description="the dhcp Provider for the Zone")
    details = Param("map", description="the details for the Zone")

    def handle(self, ctx: Context) -> ZoneResponse:
        zone = zones.update_zone(
            ctx.session, ctx.caller, self.id, name=self.name, allocation_state=self.allocationstate, dns1=self.dns1,
            dns2=self.dns2, internal_dns1=self.internaldns1, internal_dns2=self.internaldns2, ip6_dns1=self.ip6dns1,
            ip6_dns2=self.ip6dns2, guest_cidr=self.guestcidraddress, local_storage=self.localstorageenabled,
            network_domain=self.domain, dhcp_provider=self.dhcpprovider)
        details: dict[str, str] = {}
        for entry in self.map_list("details"):
            details.update(entry)
        zones.set_details(ctx.session, zone, details)
        return _with_details(ctx, [zone], zone_views(ctx.session, [zone], admin=True))[0]


class ZoneWithDetails(ZoneResponse):
    resourcedetails: dict[str, str] | None = None


def _with_details(ctx: Context, rows: list[Zone], views: list[ZoneResponse]) -> list[ZoneResponse]:
    """Admins see a zone's details (``resourcedetails``), as CloudStack shows them."""
    if not ctx.caller.is_root_admin:
        return views
    details = zones.details_of(ctx.session, [z.id for z in rows])
    return [ZoneWithDetails(**v.model_dump(), resourcedetails=details.get(z.id)) for z, v in zip(rows, views,
                                                                                                   strict=True)]


@command("deleteZone", roles=ADMINS)
class DeleteZone(Command):
    """Deletes a Zone."""

    id = Param("uuid", entity=Zone, required=True, description="the ID of the Zone")

    def handle(self, ctx: Context) -> Success:
        zones.delete_zone(ctx.session, ctx.caller, self.id)
        return Success()


@command("listZones", response=ZoneResponse, list_key="zone")
class ListZones(ListCommand):
    """Lists zones"""

    id = Param("uuid", entity=Zone, description="the ID of the zone")
    ids = Param("list", item_type="uuid", entity=Zone, description="the IDs of the zones, mutually exclusive with id")
    name = Param(description="the name of the zone")
    available = Param("boolean", description="true if you want to retrieve all available Zones. False "
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
        if self.domainid is not None:
            query = query.where(Zone.domain_id == self.domainid.id)
        if self.keyword:
            query = query.where(or_(Zone.name.like(f"%{self.keyword}%"), Zone.description.like(f"%{self.keyword}%")))
        if not ctx.caller.is_root_admin:
            query = query.where(Zone.allocation_state == "Enabled")
            visible = select(Domain.id).where(Domain.path.in_(_ancestor_paths(ctx.caller.domain_path)))
            query = query.where(or_(Zone.domain_id.is_(None), Zone.domain_id.in_(visible)))
        if self.available is False and self.id is None and not self.name:
            # CloudStack: available=false keeps the zones where the caller's account has a virtual router;
            # this server runs none, so there are none
            return ListResult([], 0)
        offset, limit = self.window(ctx.session)
        rows, total = page(ctx.session, query.order_by(Zone.id), offset, limit)
        return ListResult(_with_details(ctx, rows, zone_views(ctx.session, rows, admin=ctx.caller.is_root_admin,
                                                              show_capacities=self.showcapacities)), total)


def _ancestor_paths(path: str) -> list[str]:
    """'/a/b/' -> ['/', '/a/', '/a/b/']: a zone dedicated to a domain is visible in its subtree."""
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


# --- pods -------------------------------------------------------------------------------------------

@command("createPod", response=PodResponse, roles=ADMINS)
class CreatePod(Command):
    """Creates a new Pod."""

    zoneid = Param("uuid", entity=Zone, required=True, description="the Zone ID in which the Pod will be created")
    name = Param(required=True, description="the name of the Pod")
    gateway = Param(description="the gateway for the Pod")
    netmask = Param(description="the netmask for the Pod")
    startip = Param(description="the starting IP address for the Pod")
    endip = Param(description="the ending IP address for the Pod")
    allocationstate = Param(choices=ALLOCATION, description="Allocation state of this Pod for allocation of new "
                                                            "resources")

    def handle(self, ctx: Context) -> PodResponse:
        pod = zones.create_pod(ctx.session, ctx.caller, zone=self.zoneid, name=self.name, gateway=self.gateway,
                               netmask=self.netmask, start_ip=self.startip, end_ip=self.endip,
                               allocation_state=self.allocationstate)
        return pod_views(ctx.session, [pod])[0]


@command("updatePod", response=PodResponse, roles=ADMINS)
class UpdatePod(Command):
    """Updates a Pod."""

    id = Param("uuid", entity=Pod, required=True, description="the ID of the Pod")
    name = Param(description="the name of the Pod")
    gateway = Param(description="the gateway for the Pod")
    netmask = Param(description="the netmask of the Pod")
    startip = Param(description="the starting IP address for the Pod")
    endip = Param(description="the ending IP address for the Pod")
    allocationstate = Param(choices=ALLOCATION, description="Allocation state of this cluster for allocation of new "
                                                            "resources")

    def handle(self, ctx: Context) -> PodResponse:
        pod = zones.update_pod(ctx.session, ctx.caller, self.id, name=self.name, gateway=self.gateway,
                               netmask=self.netmask, start_ip=self.startip, end_ip=self.endip,
                               allocation_state=self.allocationstate)
        return pod_views(ctx.session, [pod])[0]


@command("deletePod", roles=ADMINS)
class DeletePod(Command):
    """Deletes a Pod."""

    id = Param("uuid", entity=Pod, required=True, description="the ID of the Pod")

    def handle(self, ctx: Context) -> Success:
        zones.delete_pod(ctx.session, ctx.caller, self.id)
        return Success()


@command("listPods", response=PodResponse, list_key="pod", roles=ADMINS)
class ListPods(ListCommand):
    """Lists all Pods."""

    id = Param("uuid", entity=Pod, description="list Pods by ID")
    name = Param(description="list Pods by name")
    zoneid = Param("uuid", entity=Zone, description="list Pods by Zone ID")
    allocationstate = Param(choices=ALLOCATION, description="list pods by allocation state")
    showcapacities = Param("boolean", default=False, description="flag to display the capacity of the pods")

    def handle(self, ctx: Context) -> ListResult:
        query = zones.pod_query(pod=self.id, name=self.name, zone=self.zoneid, allocation_state=self.allocationstate,
                                keyword=self.keyword)
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        return ListResult(pod_views(ctx.session, rows, show_capacities=self.showcapacities), total)


# --- IP ranges --------------------------------------------------------------------------------------

@command("createVlanIpRange", response=VlanIpRangeResponse, roles=ADMINS)
class CreateVlanIpRange(Command):
    """Creates a VLAN IP range."""

    zoneid = Param("uuid", entity=Zone, description="the Zone ID of the VLAN IP range")
    podid = Param("uuid", entity=Pod, description="optional parameter. Have to be specified for Direct Untagged vlan "
                                                  "only.")
    gateway = Param(description="the gateway of the VLAN IP range")
    netmask = Param(description="the netmask of the VLAN IP range")
    startip = Param(description="the beginning IP address in the VLAN IP range")
    endip = Param(description="the ending IP address in the VLAN IP range")
    forvirtualnetwork = Param("boolean", description="true if VLAN is of Virtual type, false if Direct")
    vlan = Param(description="the ID or VID of the VLAN. If not specified, will be defaulted to the vlan of the "
                             "network or if vlan of the network is null - to Untagged")
    account = Param(description="account who will own the VLAN. If VLAN is Zone wide, this parameter should be "
                                "omitted")
    domainid = Param("uuid", entity=Domain, description="domain ID of the account owning a VLAN")
    forsystemvms = Param("boolean", default=False, description="true if IP range is set to system vms, false if not")
    networkid = Param("uuid", entity=Network, description="the network id")
    physicalnetworkid = Param("uuid", entity=PhysicalNetwork, description="the physical network id")

    def handle(self, ctx: Context) -> VlanIpRangeResponse:
        owner = _owner(ctx, self.account, self.domainid)
        zone = self.zoneid or (ctx.session.get(Zone, self.networkid.zone_id) if self.networkid and not self.podid
                               else None)
        row = ips.create_range(ctx.session, ctx.caller, zone=zone, pod=self.podid, gateway=self.gateway,
                               netmask=self.netmask, start_ip=self.startip, end_ip=self.endip,
                               for_virtual_network=self.forvirtualnetwork, vlan=self.vlan, account=owner,
                               domain=self.domainid, for_system_vms=self.forsystemvms)
        networks.attach_range(ctx.session, row, self.networkid, self.physicalnetworkid)
        views = vlan_views(ctx.session, [row])
        networks.fill_range_views(ctx.session, [row], views)
        return views[0]


def _owner(ctx: Context, account: str | None, domain: Domain | None) -> Account | None:
    if not account:
        return None
    owner = ctx.session.scalar(select(Account).where(Account.account_name == account, Account.removed.is_(None),
                                                     Account.domain_id == (domain.id if domain else 1)))
    if owner is None:
        raise InvalidParameter(f"Invalid parameter account value={account}: no such account in the domain")
    return owner


@command("deleteVlanIpRange", roles=ADMINS)
class DeleteVlanIpRange(Command):
    """Deletes a VLAN IP range."""

    id = Param("uuid", entity=VlanRange, required=True, description="the id of the VLAN IP range")

    def handle(self, ctx: Context) -> Success:
        ips.delete_range(ctx.session, ctx.caller, self.id)
        return Success()


@command("listVlanIpRanges", response=ListedVlanIpRange, list_key="vlaniprange", roles=ADMINS)
class ListVlanIpRanges(ListCommand):
    """Lists all VLAN IP ranges."""

    id = Param("uuid", entity=VlanRange, description="the ID of the VLAN IP range")
    zoneid = Param("uuid", entity=Zone, description="the Zone ID of the VLAN IP range")
    podid = Param("uuid", entity=Pod, description="the Pod ID of the VLAN IP range")
    vlan = Param(description="the ID or VID of the VLAN. Default is an \"untagged\" VLAN.")
    forvirtualnetwork = Param("boolean", description="true if VLAN is of Virtual type, false if Direct")
    account = Param(description="the account with which the VLAN IP range is associated. Must be used with the "
                                "domainId parameter.")
    domainid = Param("uuid", entity=Domain, description="the domain ID with which the VLAN IP range is associated.")
    networkid = Param("uuid", entity=Network, description="network id of the VLAN IP range")
    physicalnetworkid = Param("uuid", entity=PhysicalNetwork, description="physical network id of the VLAN IP range")

    def handle(self, ctx: Context) -> ListResult:
        query = ips.range_query(vlan=self.id, zone=self.zoneid, pod=self.podid, tag=self.vlan,
                                for_virtual_network=self.forvirtualnetwork, account=self.account,
                                domain=self.domainid, keyword=self.keyword)
        if self.networkid is not None:
            query = query.where(VlanRange.network_id == self.networkid.id)
        if self.physicalnetworkid is not None:
            query = query.where(VlanRange.physical_network_id == self.physicalnetworkid.id)
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        views = vlan_views(ctx.session, rows, listed=True)
        networks.fill_range_views(ctx.session, rows, views)
        return ListResult(views, total)


# --- capacity ---------------------------------------------------------------------------------------

@command("listCapacity", response=CapacityResponse, list_key="capacity", roles=ADMINS)
class ListCapacity(ListCommand):
    """Lists all the system wide capacities."""

    zoneid = Param("uuid", entity=Zone, description="lists capacity by the Zone ID")
    podid = Param("uuid", entity=Pod, description="lists capacity by the Pod ID")
    clusterid = Param("uuid", entity=Cluster, description="lists capacity by the Cluster ID")
    type = Param("integer", description="lists capacity by type* CAPACITY_TYPE_MEMORY = 0* CAPACITY_TYPE_CPU = 1* "
                                        "CAPACITY_TYPE_STORAGE = 2* CAPACITY_TYPE_STORAGE_ALLOCATED = 3* "
                                        "CAPACITY_TYPE_VIRTUAL_NETWORK_PUBLIC_IP = 4* CAPACITY_TYPE_PRIVATE_IP = 5* "
                                        "CAPACITY_TYPE_SECONDARY_STORAGE = 6* CAPACITY_TYPE_VLAN = 7* "
                                        "CAPACITY_TYPE_DIRECT_ATTACHED_PUBLIC_IP = 8* CAPACITY_TYPE_LOCAL_STORAGE = 9.")
    fetchlatest = Param("boolean", default=False, description="recalculate capacities and fetch the latest")
    sortby = Param(choices=("usage",), description="Sort the results. Available values: Usage")

    def handle(self, ctx: Context) -> ListResult:
        rows = capacity.list_capacity(ctx.session, zone=self.zoneid, pod=self.podid, cluster=self.clusterid,
                                      type_=self.type, sort_by_usage=self.sortby == "usage")
        offset, limit = self.window(ctx.session)
        return ListResult(capacity_views(ctx.session, rows[offset:offset + limit if limit else None]), len(rows))
