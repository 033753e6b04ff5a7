"""Networking commands: physical networks, traffic types, service providers, virtual router elements, network
offerings, guest networks (the console zone wizard's part), public IPs and static NAT."""

from __future__ import annotations

from sqlalchemy import or_

from management.api.native.params import Param
from management.api.native.registry import (
    ADMINS,
    Command,
    ListCommand,
    ListDomainResourcesCommand,
    ListResult,
    Prepared,
    Success,
    command,
)
from management.compute.vm_models import Nic, VMInstance
from management.context import Context
from management.errors import InvalidParameter
from management.iam import access
from management.iam.models import Domain
from management.infra import zones as zone_service
from management.infra.models import IpAddress, VlanRange, Zone
from management.jobs.models import AsyncJob
from management.network import networks, nics, physical, public_ips, static_nat
from management.network.models import (
    Network,
    NetworkOffering,
    NicSecondaryIp,
    PhysicalNetwork,
    ServiceProvider,
    TrafficType,
    VirtualRouterElement,
)
from management.network.responses import (
    IpForwardingRuleResponse,
    ListedPublicIp,
    ListedTrafficType,
    NetworkOfferingResponse,
    NetworkResponse,
    NicResponse,
    NicSecondaryIpResponse,
    PhysicalNetworkResponse,
    PortForwardingRuleResponse,
    ProviderResponse,
    PublicIpResponse,
    TrafficTypeResponse,
    VirtualRouterElementResponse,
    listed_traffic_type_views,
    network_views,
    nic_views,
    offering_views,
    physical_network_views,
    provider_views,
    public_ip_views,
    router_element_views,
    secondary_ip_views,
    traffic_type_views,
)
from management.pagination import page
from management.tags import service as tag_service

ADMIN_NET = "org.apache.cloudstack.api.command.admin.network."
USER_NET = "org.apache.cloudstack.api.command.user.network."
USER_ADDR = "org.apache.cloudstack.api.command.user.address."
USER_NAT = "org.apache.cloudstack.api.command.user.nat."
ROUTER = "org.apache.cloudstack.api.command.admin.router."
USER_VM = "org.apache.cloudstack.api.command.user.vm."


def _instance(ctx: Context, model):
    return ctx.session.get(model, ctx.session.get(AsyncJob, ctx.job_id).instance_id)


# --- physical networks ------------------------------------------------------------------------------

@command("createPhysicalNetwork", response=PhysicalNetworkResponse, is_async=True, creates=True, roles=ADMINS,
         event="PHYSICAL.NETWORK.CREATE", instance_type="PhysicalNetwork",
         java_class=ADMIN_NET + "CreatePhysicalNetworkCmd")
class CreatePhysicalNetwork(Command):
    """Creates a physical network"""

    zoneid = Param("uuid", entity=Zone, required=True, description="the Zone ID for the physical network")
    name = Param(required=True, description="the name of the physical network")
    vlan = Param(description="the VLAN for the physical network")
    networkspeed = Param(description="the speed for the physical network[1G/10G]")
    broadcastdomainrange = Param(description="the broadcast domain range for the physical network[Pod or Zone]. In "
                                             "Acton release it can be Zone only in Advance zone, and Pod in Basic")
    domainid = Param("uuid", entity=Domain, description="domain ID of the account owning a physical network")
    isolationmethods = Param("list", description="the isolation method for the physical network[VLAN/L3/GRE]")
    tags = Param("list", description="Tag the physical network")

    def prepare(self, ctx: Context) -> Prepared:
        return Prepared(instance=physical.create(
            ctx.session, ctx.caller, zone=self.zoneid, name=self.name, isolation_methods=self.isolationmethods,
            vlan=self.vlan, broadcast_domain_range=self.broadcastdomainrange, tags=self.tags,
            speed=self.networkspeed, domain=self.domainid))

    def run(self, ctx: Context) -> PhysicalNetworkResponse:
        return physical_network_views(ctx.session, [_instance(ctx, PhysicalNetwork)])[0]


@command("updatePhysicalNetwork", response=PhysicalNetworkResponse, is_async=True, roles=ADMINS,
         event="PHYSICAL.NETWORK.UPDATE", instance_type="PhysicalNetwork",
         java_class=ADMIN_NET + "UpdatePhysicalNetworkCmd")
class UpdatePhysicalNetwork(Command):
    """Updates a physical network"""

    id = Param("uuid", entity=PhysicalNetwork, required=True, description="physical network id")
    state = Param(description="Enabled/Disabled")
    vlan = Param(description="the VLAN for the physical network")
    networkspeed = Param(description="the speed for the physical network[1G/10G]")
    tags = Param("list", description="Tag the physical network")

    def prepare(self, ctx: Context) -> Prepared:
        if self.state is not None:
            physical._choice("state", self.state, physical.STATES)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> PhysicalNetworkResponse:
        row = physical.update(ctx.session, ctx.caller, self.id, state=self.state, vlan=self.vlan, tags=self.tags,
                              speed=self.networkspeed)
        return physical_network_views(ctx.session, [row])[0]


@command("deletePhysicalNetwork", is_async=True, roles=ADMINS, event="PHYSICAL.NETWORK.DELETE",
         instance_type="PhysicalNetwork", java_class=ADMIN_NET + "DeletePhysicalNetworkCmd")
class DeletePhysicalNetwork(Command):
    """Deletes a Physical Network."""

    id = Param("uuid", entity=PhysicalNetwork, required=True, description="the ID of the Physical network")

    def prepare(self, ctx: Context) -> Prepared:
        physical._alive(self.id, "physical network")
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> Success:
        physical.delete(ctx.session, ctx.caller, self.id)
        return Success()


@command("listPhysicalNetworks", response=PhysicalNetworkResponse, list_key="physicalnetwork", roles=ADMINS)
class ListPhysicalNetworks(ListCommand):
    """Lists physical networks"""

    id = Param("uuid", entity=PhysicalNetwork, description="list physical network by id")
    zoneid = Param("uuid", entity=Zone, description="the Zone ID for the physical network")
    name = Param(description="search by name")

    def handle(self, ctx: Context) -> ListResult:
        query = physical.query(row=self.id, zone=self.zoneid, name=self.name, keyword=self.keyword)
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        return ListResult(physical_network_views(ctx.session, rows), total)


# --- traffic types ----------------------------------------------------------------------------------

class _Labels:
    kvmnetworklabel = Param(description="The network name label of the physical device dedicated to this traffic on "
                                        "a KVM host")
    xennetworklabel = Param(description="The network name label of the physical device dedicated to this traffic on "
                                        "a XenServer host")
    vmwarenetworklabel = Param(description="The network name label of the physical device dedicated to this traffic "
                                           "on a VMware host")
    hypervnetworklabel = Param(description="The network name label of the physical device dedicated to this traffic "
                                           "on a Hyperv host")
    ovm3networklabel = Param(description="The network name of the physical device dedicated to this traffic on an "
                                         "OVM3 host")

    def labels(self) -> dict[str, str | None]:
        return {"kvm_label": self.kvmnetworklabel, "xen_label": self.xennetworklabel,
                "vmware_label": self.vmwarenetworklabel, "hyperv_label": self.hypervnetworklabel,
                "ovm3_label": self.ovm3networklabel}


@command("addTrafficType", response=TrafficTypeResponse, is_async=True, creates=True, roles=ADMINS,
         event="TRAFFIC.TYPE.CREATE", instance_type="TrafficType", java_class=ADMIN_NET + "AddTrafficTypeCmd")
class AddTrafficType(_Labels, Command):
    """Adds traffic type to a physical network"""

    physicalnetworkid = Param("uuid", entity=PhysicalNetwork, required=True, description="the Physical Network ID")
    traffictype = Param(required=True, description="the trafficType to be added to the physical network")
    vlan = Param(description="The VLAN id to be used for Management traffic by VMware host")
    isolationmethod = Param(description="Used if physical network has multiple isolation types and traffic type is "
                                        "public. Choose which isolation method. Valid options currently 'vlan' or "
                                        "'vxlan', defaults to 'vlan'.")

    def prepare(self, ctx: Context) -> Prepared:
        return Prepared(instance=physical.add_traffic_type(
            ctx.session, ctx.caller, physical=self.physicalnetworkid, traffic_type=self.traffictype,
            labels=self.labels(), vlan=self.vlan, isolation_method=self.isolationmethod))

    def run(self, ctx: Context) -> TrafficTypeResponse:
        return traffic_type_views(ctx.session, [_instance(ctx, TrafficType)])[0]


@command("updateTrafficType", response=TrafficTypeResponse, is_async=True, roles=ADMINS,
         event="TRAFFIC.TYPE.UPDATE", instance_type="TrafficType", java_class=ADMIN_NET + "UpdateTrafficTypeCmd")
class UpdateTrafficType(_Labels, Command):
    """Updates traffic type of a physical network"""

    id = Param("uuid", entity=TrafficType, required=True, description="traffic type id")

    def prepare(self, ctx: Context) -> Prepared:
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> TrafficTypeResponse:
        return traffic_type_views(ctx.session, [physical.update_traffic_type(ctx.session, ctx.caller, self.id,
                                                                             self.labels())])[0]


@command("deleteTrafficType", is_async=True, roles=ADMINS, event="TRAFFIC.TYPE.DELETE", instance_type="TrafficType",
         java_class=ADMIN_NET + "DeleteTrafficTypeCmd")
class DeleteTrafficType(Command):
    """Deletes traffic type of a physical network"""

    id = Param("uuid", entity=TrafficType, required=True, description="traffic type id")

    def prepare(self, ctx: Context) -> Prepared:
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> Success:
        physical.delete_traffic_type(ctx.session, ctx.caller, self.id)
        return Success()


@command("listTrafficTypes", response=ListedTrafficType, list_key="traffictype", roles=ADMINS)
class ListTrafficTypes(ListCommand):
    """Lists traffic types of a given physical network."""

    physicalnetworkid = Param("uuid", entity=PhysicalNetwork, required=True, description="the Physical Network ID")

    def handle(self, ctx: Context) -> ListResult:
        from sqlalchemy import select

        query = select(TrafficType).where(TrafficType.physical_network_id == self.physicalnetworkid.id)
        if self.keyword:
            query = query.where(TrafficType.traffic_type.like(f"%{self.keyword}%"))
        rows, total = page(ctx.session, query.order_by(TrafficType.id), *self.window(ctx.session))
        return ListResult(listed_traffic_type_views(ctx.session, rows), total)


# --- network service providers and virtual router elements ------------------------------------------

@command("addNetworkServiceProvider", response=ProviderResponse, is_async=True, creates=True, roles=ADMINS,
         event="SERVICE.PROVIDER.CREATE", instance_type="PhysicalNetworkServiceProvider",
         java_class=ADMIN_NET + "AddNetworkServiceProviderCmd")
class AddNetworkServiceProvider(Command):
    """Adds a network serviceProvider to a physical network"""

    name = Param(required=True, description="the name for the physical network service provider")
    physicalnetworkid = Param("uuid", entity=PhysicalNetwork, required=True,
                              description="the Physical Network ID to add the provider to")
    destinationphysicalnetworkid = Param("uuid", entity=PhysicalNetwork,
                                         description="the destination Physical Network ID to bridge to")
    servicelist = Param("list", description="the list of services to be enabled for this physical network service "
                                            "provider")

    def prepare(self, ctx: Context) -> Prepared:
        return Prepared(instance=physical.add_provider(
            ctx.session, ctx.caller, physical=self.physicalnetworkid, name=self.name,
            destination=self.destinationphysicalnetworkid, services=self.servicelist))

    def run(self, ctx: Context) -> ProviderResponse:
        return provider_views(ctx.session, [_instance(ctx, ServiceProvider)])[0]


@command("updateNetworkServiceProvider", response=ProviderResponse, is_async=True, roles=ADMINS,
         event="SERVICE.PROVIDER.UPDATE", instance_type="PhysicalNetworkServiceProvider",
         java_class=ADMIN_NET + "UpdateNetworkServiceProviderCmd")
class UpdateNetworkServiceProvider(Command):
    """Updates a network serviceProvider of a physical network"""

    id = Param("uuid", entity=ServiceProvider, required=True, description="network service provider id")
    state = Param(description="Enabled/Disabled/Shutdown the physical network service provider")
    servicelist = Param("list", description="the list of services to be enabled for this physical network service "
                                            "provider")

    def prepare(self, ctx: Context) -> Prepared:
        if self.state is not None:
            physical._choice("state", self.state, physical.PROVIDER_STATES)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> ProviderResponse:
        row = physical.update_provider(ctx.session, ctx.caller, self.id, state=self.state, services=self.servicelist)
        return provider_views(ctx.session, [row])[0]


@command("listNetworkServiceProviders", response=ProviderResponse, list_key="networkserviceprovider", roles=ADMINS)
class ListNetworkServiceProviders(ListCommand):
    """Lists network serviceproviders for a given physical network."""

    physicalnetworkid = Param("uuid", entity=PhysicalNetwork, description="the Physical Network ID")
    name = Param(description="list providers by name")
    state = Param(description="list providers by state")

    def handle(self, ctx: Context) -> ListResult:
        query = physical.provider_query(physical=self.physicalnetworkid, name=self.name, state=self.state,
                                        keyword=self.keyword)
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        return ListResult(provider_views(ctx.session, rows), total)


@command("configureVirtualRouterElement", response=VirtualRouterElementResponse, is_async=True, roles=ADMINS,
         event="NETWORK.ELEMENT.CONFIGURE",
         java_class=ROUTER + "ConfigureVirtualRouterElementCmd")
class ConfigureVirtualRouterElement(Command):
    """Configures a virtual router element."""

    id = Param("uuid", entity=VirtualRouterElement, required=True, description="the ID of the virtual router "
                                                                              "provider")
    enabled = Param("boolean", required=True, description="Enabled/Disabled the service provider")

    def prepare(self, ctx: Context) -> Prepared:
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> VirtualRouterElementResponse:
        row = physical.configure_router_element(ctx.session, ctx.caller, self.id, bool(self.enabled))
        return router_element_views(ctx.session, [row])[0]


@command("listVirtualRouterElements", response=VirtualRouterElementResponse, list_key="virtualrouterelement",
         roles=ADMINS)
class ListVirtualRouterElements(ListCommand):
    """Lists all available virtual router elements."""

    id = Param("uuid", entity=VirtualRouterElement, description="list virtual router elements by id")
    nspid = Param("uuid", entity=ServiceProvider, description="list virtual router elements by network service "
                                                              "provider id")
    enabled = Param("boolean", description="list network offerings by enabled state")

    def handle(self, ctx: Context) -> ListResult:
        query = physical.router_element_query(row=self.id, nsp=self.nspid, enabled=self.enabled)
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        return ListResult(router_element_views(ctx.session, rows), total)


# --- network offerings and networks -----------------------------------------------------------------

@command("listNetworkOfferings", response=NetworkOfferingResponse, list_key="networkoffering")
class ListNetworkOfferings(ListCommand):
    """Lists all available network offerings."""

    id = Param("uuid", entity=NetworkOffering, description="list network offerings by ID")
    name = Param(description="list network offerings by name")
    displaytext = Param(description="list network offerings by display text")
    traffictype = Param(description="list by traffic type")
    guestiptype = Param(description="list network offerings by guest type: shared or isolated")
    state = Param(description="list network offerings by state")
    isdefault = Param("boolean", description="true if need to list only default network offerings. Default value is "
                                             "false")
    specifyvlan = Param("boolean", description="the tags for the network offering.")
    specifyipranges = Param("boolean", description="true if need to list only network offerings which support "
                                                   "specifying ip ranges")
    zoneid = Param("uuid", entity=Zone, description="list network offerings available for network creation in "
                                                    "specific zone")
    supportedservices = Param("list", description="list network offerings supporting certain services")
    forvpc = Param("boolean", description="the network offering can be used only for network creation inside the "
                                          "VPC")

    def handle(self, ctx: Context) -> ListResult:
        query = networks.offering_query(
            row=self.id, name=self.name, guest_type=self.guestiptype, traffic_type=self.traffictype, state=self.state,
            is_default=self.isdefault, specify_vlan=self.specifyvlan, specify_ip_ranges=self.specifyipranges,
            zone=self.zoneid, supported_services=self.supportedservices, keyword=self.keyword, for_vpc=self.forvpc,
            display_text=self.displaytext)
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        return ListResult(offering_views(rows), total)


@command("createNetwork", response=NetworkResponse, roles=ADMINS)
class CreateNetwork(Command):
    """Creates a network"""

    name = Param(required=True, description="the name of the network")
    displaytext = Param(description="the display text of the network")
    networkofferingid = Param("uuid", entity=NetworkOffering, required=True, description="the network offering ID")
    zoneid = Param("uuid", entity=Zone, required=True, description="the zone ID for the network")
    physicalnetworkid = Param("uuid", entity=PhysicalNetwork, description="the physical network ID the network "
                                                                          "belongs to")
    gateway = Param(description="the gateway of the network. Required for shared networks and isolated networks when "
                                "it belongs to VPC")
    acltype = Param(description="Access control type; supported values are account and domain.")
    networkdomain = Param(description="network domain")

    def handle(self, ctx: Context) -> NetworkResponse:
        row = networks.create_network(
            ctx.session, ctx.caller, zone=self.zoneid, offering=self.networkofferingid, name=self.name,
            display_text=self.displaytext, physical=self.physicalnetworkid, acl_type=self.acltype,
            network_domain=self.networkdomain, gateway=self.gateway)
        return network_views(ctx.session, [row])[0]


@command("listNetworks", response=NetworkResponse, list_key="network")
class ListNetworks(ListDomainResourcesCommand):
    """Lists all available networks."""

    id = Param("uuid", entity=Network, description="list networks by ID")
    zoneid = Param("uuid", entity=Zone, description="the zone ID of the network")
    type = Param(description="the type of the network. Supported values are: isolated, l2, shared and all")
    traffictype = Param(description="type of the traffic")
    issystem = Param("boolean", description="true if network is system, false otherwise")
    networkofferingid = Param("uuid", entity=NetworkOffering, description="list networks by network offering ID")
    physicalnetworkid = Param("uuid", entity=PhysicalNetwork, description="list networks by physical network id")
    acltype = Param(description="list networks by ACL (access control list) type. Supported values are account and "
                                "domain")
    canusefordeploy = Param("boolean", description="list networks available for VM deployment")
    name = Param(description="list networks by name")
    displaynetwork = Param("boolean", description="list resources by display flag; only ROOT admin is eligible to "
                                                  "pass this parameter")
    tags = Param("map", description="List resources by tags (key/value pairs)")

    def handle(self, ctx: Context) -> ListResult:
        if self.domainid is not None:
            access.check_domain_access(ctx.caller, self.domainid)
        guest_type = None if (self.type or "").lower() in ("", "all") else self.type
        query = networks.network_query(
            ctx.session, ctx.caller, row=self.id, zone=self.zoneid, guest_type=guest_type,
            traffic_type=self.traffictype, is_system=self.issystem, offering=self.networkofferingid,
            physical=self.physicalnetworkid, name=self.name, keyword=self.keyword, acl_type=self.acltype,
            account=self.account, domain=self.domainid, can_use_for_deploy=self.canusefordeploy,
            display_network=self.displaynetwork)
        query = tag_service.filtered(query, "Network", Network.id, self.map_list("tags"))
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        return ListResult(network_views(ctx.session, rows), total)


@command("updateNetwork", response=NetworkResponse, is_async=True, event="NETWORK.UPDATE", instance_type="Network",
         java_class=USER_NET + "UpdateNetworkCmd")
class UpdateNetwork(Command):
    """Updates a network"""

    id = Param("uuid", entity=Network, required=True, description="the ID of the network")
    name = Param(description="the new name for the network")
    displaytext = Param(description="the new display text for the network")
    networkdomain = Param(description="network domain")
    displaynetwork = Param("boolean", description="an optional field, whether to the display the network to the end "
                                                  "user or not.")

    def prepare(self, ctx: Context) -> Prepared:
        networks.check_access(ctx.session, ctx.caller, self.id, modify=True)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> NetworkResponse:
        row = networks.update_network(ctx.session, ctx.caller, self.id, name=self.name, display_text=self.displaytext,
                                      network_domain=self.networkdomain, display_network=self.displaynetwork)
        return network_views(ctx.session, [row])[0]


@command("deleteNetwork", is_async=True, event="NETWORK.DELETE", instance_type="Network",
         java_class=USER_NET + "DeleteNetworkCmd")
class DeleteNetwork(Command):
    """Deletes a network"""

    id = Param("uuid", entity=Network, required=True, description="the ID of the network")
    forced = Param("boolean", default=False, description="Force delete a network. Network will be marked as 'Destroy' "
                                                         "even when commands to shutdown and cleanup to the backend "
                                                         "fails.")

    def prepare(self, ctx: Context) -> Prepared:
        networks.check_deletable(ctx.session, ctx.caller, self.id)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> Success:
        networks.delete_network(ctx.session, ctx.caller, self.id)
        return Success()


# --- public IP addresses and static NAT -------------------------------------------------------------

@command("associateIpAddress", response=PublicIpResponse, is_async=True, creates=True, event="NET.IPASSIGN",
         instance_type="IpAddress", java_class=USER_ADDR + "AssociateIPAddrCmd")
class AssociateIpAddress(Command):
    """Acquires and associates a public IP to an account."""

    zoneid = Param("uuid", entity=Zone, description="the ID of the availability zone you want to acquire an public IP "
                                                    "address from")
    networkid = Param("uuid", entity=Network, description="The network this IP address should be associated to.")
    ipaddress = Param(description="IP Address to be associated")
    account = Param(description="the account to associate with this IP address")
    domainid = Param("uuid", entity=Domain, description="the ID of the domain to associate with this IP address")
    fordisplay = Param("boolean", default=True, description="an optional field, whether to the display the IP to the "
                                                            "end user or not")

    def prepare(self, ctx: Context) -> Prepared:
        owner = public_ips.owner_of(ctx.session, ctx.caller, self.account, self.domainid)
        return Prepared(instance=public_ips.associate(ctx.session, ctx.caller, zone=self.zoneid,
                                                      network=self.networkid, address=self.ipaddress, owner=owner))

    def run(self, ctx: Context) -> PublicIpResponse:
        return public_ip_views(ctx.session, [_instance(ctx, IpAddress)])[0]


@command("disassociateIpAddress", is_async=True, event="NET.IPRELEASE", instance_type="IpAddress",
         java_class=USER_ADDR + "DisassociateIPAddrCmd")
class DisassociateIpAddress(Command):
    """Disassociates an IP address from the account."""

    id = Param("uuid", entity=IpAddress, required=True, description="the ID of the public IP address to "
                                                                    "disassociate")
    ipaddress = Param(description="IP Address to be disassociated (must be the address of id)")

    def _ip(self, ctx: Context) -> IpAddress:
        if self.ipaddress is not None and self.ipaddress.strip() != self.id.address:
            raise InvalidParameter(f"Invalid parameter ipaddress value={self.ipaddress}: it is not the address of "
                                   f"id {self.id.uuid}")
        return self.id

    def prepare(self, ctx: Context) -> Prepared:
        ip = self._ip(ctx)
        public_ips.check_owned(ctx.session, ctx.caller, ip)
        return Prepared(instance=ip)

    def run(self, ctx: Context) -> Success:
        ip = _instance(ctx, IpAddress)
        public_ips.check_owned(ctx.session, ctx.caller, ip)
        if ip.one_to_one_nat:
            static_nat.disable(ctx.session, ctx.caller, ip)
        public_ips.release(ctx.session, ctx.caller, ip)
        return Success()


@command("listPublicIpAddresses", response=ListedPublicIp, list_key="publicipaddress")
class ListPublicIpAddresses(ListDomainResourcesCommand):
    """Lists all public IP addresses"""

    id = Param("uuid", entity=IpAddress, description="lists IP address by ID")
    ipaddress = Param(description="lists the specified IP address")
    zoneid = Param("uuid", entity=Zone, description="lists all public IP addresses by zone ID")
    vlanid = Param("uuid", entity=VlanRange, description="lists all public IP addresses by VLAN ID")
    associatednetworkid = Param("uuid", entity=Network, description="lists all public IP addresses associated to the "
                                                                    "network specified")
    networkid = Param("uuid", entity=Network, description="lists all public IP addresses by source network ID")
    allocatedonly = Param("boolean", default=True, description="limits search results to allocated public IP "
                                                               "addresses")
    isstaticnat = Param("boolean", description="list only static NAT IP addresses")
    issourcenat = Param("boolean", description="list only source NAT IP addresses")
    forvirtualnetwork = Param("boolean", description="the virtual network for the IP address")
    state = Param(description="lists all public IP addresses by state")
    fordisplay = Param("boolean", description="list resources by display flag; only ROOT admin is eligible to pass "
                                              "this parameter")
    tags = Param("map", description="List resources by tags (key/value pairs)")

    def handle(self, ctx: Context) -> ListResult:
        allocated_only = self.allocatedonly and not (self.state and self.state.lower() == "free")
        query = public_ips.public_query(
            zone=self.zoneid, allocated_only=allocated_only, static_nat=self.isstaticnat, address=self.ipaddress,
            row=self.id, vlan=self.vlanid, network=self.associatednetworkid or self.networkid, state=self.state,
            for_virtual_network=True if self.forvirtualnetwork is None else self.forvirtualnetwork,
            keyword=self.keyword)
        if self.issourcenat:
            query = query.where(IpAddress.source_nat.is_(True))
        if allocated_only or not ctx.caller.is_root_admin:
            scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                      recursive=self.isrecursive, listall=self.listall, by_id=self.id is not None)
            owned = scope.where(IpAddress.account_id, IpAddress.domain_id)
            # free addresses are anyone's to pick (the console's "acquire a specific IP" lists them)
            query = query.where(owned if allocated_only else or_(IpAddress.state == "Free", owned))
        query = tag_service.filtered(query, "PublicIpAddress", IpAddress.id, self.map_list("tags"))
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        return ListResult(public_ip_views(ctx.session, rows, listed=True), total)


@command("enableStaticNat")
class EnableStaticNat(Command):
    """Enables static NAT for given IP address"""

    ipaddressid = Param("uuid", entity=IpAddress, required=True, description="the public IP address ID for which "
                                                                             "static NAT feature is being enabled")
    virtualmachineid = Param("uuid", entity=VMInstance, required=True, description="the ID of the virtual machine "
                                                                                   "for enabling static NAT feature")
    networkid = Param("uuid", entity=Network, description="The network of the VM the static NAT will be enabled for. "
                                                          "Required when public IP address is not associated with any "
                                                          "guest network yet (VPC case)")
    vmguestip = Param(description="VM guest NIC secondary IP address for the port forwarding rule")

    def handle(self, ctx: Context) -> Success:
        static_nat.enable(ctx.session, ctx.caller, self.ipaddressid, self.virtualmachineid, self.vmguestip)
        return Success()


@command("disableStaticNat", is_async=True, event="STATICNAT.DISABLE", instance_type="IpAddress",
         java_class=USER_NAT + "DisableStaticNatCmd")
class DisableStaticNat(Command):
    """Disables static rule for given IP address"""

    ipaddressid = Param("uuid", entity=IpAddress, required=True, description="the public IP address ID for which "
                                                                             "static NAT feature is being disabled")

    def prepare(self, ctx: Context) -> Prepared:
        static_nat.check_disable(ctx.session, ctx.caller, self.ipaddressid)
        return Prepared(instance=self.ipaddressid)

    def run(self, ctx: Context) -> Success:
        static_nat.check_disable(ctx.session, ctx.caller, self.ipaddressid)
        static_nat.disable(ctx.session, ctx.caller, self.ipaddressid)
        return Success()


# --- NICs and their secondary addresses --------------------------------------------------------------

@command("listNics", response=NicResponse, list_key="nic")
class ListNics(ListCommand):
    """list the vm nics  IP to NIC"""

    virtualmachineid = Param("uuid", entity=VMInstance, required=True, description="the ID of the vm")
    nicid = Param("uuid", entity=Nic, description="the ID of the nic to to list IPs")
    networkid = Param("uuid", entity=Network, description="list nic of the specific vm's network")
    fordisplay = Param("boolean", description="list resources by display flag; only ROOT admin is eligible to pass "
                                              "this parameter")

    def handle(self, ctx: Context) -> ListResult:
        query = nics.list_nics(ctx.session, ctx.caller, self.virtualmachineid, nic=self.nicid, network=self.networkid)
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        return ListResult(nic_views(ctx.session, rows), total)


@command("addIpToNic", response=NicSecondaryIpResponse, is_async=True, creates=True, event="NIC.SECONDARY.IP.ASSIGN",
         instance_type="Nic", java_class=USER_VM + "AddIpToVmNicCmd")
class AddIpToNic(Command):
    """Assigns secondary IP to NIC"""

    nicid = Param("uuid", entity=Nic, required=True, description="the ID of the nic to which you want to assign "
                                                                 "private IP")
    ipaddress = Param(description="Secondary IP Address")

    def prepare(self, ctx: Context) -> Prepared:
        return Prepared(instance=nics.add_secondary_ip(ctx.session, ctx.caller, self.nicid, self.ipaddress))

    def run(self, ctx: Context) -> NicSecondaryIpResponse:
        return secondary_ip_views(ctx.session, [_instance(ctx, NicSecondaryIp)])[0]


@command("removeIpFromNic", is_async=True, event="NIC.SECONDARY.IP.UNASSIGN", instance_type="Nic",
         java_class=USER_VM + "RemoveIpFromVmNicCmd")
class RemoveIpFromNic(Command):
    """Removes secondary IP from the NIC."""

    id = Param("uuid", entity=NicSecondaryIp, required=True, description="the ID of the secondary ip address to nic")

    def prepare(self, ctx: Context) -> Prepared:
        nics.check_remove(ctx.session, ctx.caller, self.id)
        return Prepared()

    def run(self, ctx: Context) -> Success:
        nics.remove_secondary_ip(ctx.session, ctx.caller, self.id)
        return Success()



# --- port and IP forwarding rules: none in a Basic zone -------------------------------------------------

class _NoRules(ListDomainResourcesCommand):
    ipaddressid = Param("uuid", entity=IpAddress, description="list the rules for the specified IP address")

    def handle(self, ctx: Context) -> ListResult:
        if self.ipaddressid is not None:
            public_ips.check_owned(ctx.session, ctx.caller, self.ipaddressid)
        return ListResult([], 0)  # static NAT is the only rule a Basic zone's public IPs take here


@command("listPortForwardingRules", response=PortForwardingRuleResponse, list_key="portforwardingrule")
class ListPortForwardingRules(_NoRules):
    """Lists all port forwarding rules for an IP address."""


@command("listIpForwardingRules", response=IpForwardingRuleResponse, list_key="ipforwardingrule")
class ListIpForwardingRules(_NoRules):
    """List the IP forwarding rules"""


zone_service.ZONE_DELETE_CHECKS.append(networks.zone_has_networks)
static_nat.register()
