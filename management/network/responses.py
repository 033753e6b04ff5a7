"""Response objects of the networking commands and the functions that build them from rows."""

from __future__ import annotations

import json

from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from management.api.native.responses import ResponseObject, cs_date
from management.iam.models import Account, Domain
from management.infra.models import IpAddress, VlanRange, Zone
from management.network.models import (
    Network,
    NetworkOffering,
    PhysicalNetwork,
    ServiceProvider,
    TrafficType,
    VirtualRouterElement,
)
from management.tags import service as tag_service


class PhysicalNetworkResponse(ResponseObject):
    object_name = "physicalnetwork"
    id: str
    name: str
    zoneid: str
    zonename: str | None = None
    state: str
    vlan: str | None = None
    networkspeed: str | None = None
    isolationmethods: str | None = None
    broadcastdomainrange: str
    tags: str | None = None
    domainid: str | None = None


class TrafficTypeResponse(ResponseObject):
    object_name = "traffictype"
    id: str
    traffictype: str
    physicalnetworkid: str
    kvmnetworklabel: str | None = None
    xennetworklabel: str | None = None
    vmwarenetworklabel: str | None = None
    hypervnetworklabel: str | None = None
    ovm3networklabel: str | None = None


class ListedTrafficType(ResponseObject):
    """listTrafficTypes: CloudStack declares ProviderResponse as its response class but returns traffic type
    objects (id, traffictype, physicalnetworkid, the labels). The declared fields are the ones the API
    dump lists; the others travel as extra fields, so the wire matches CloudStack's."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    object_name = "traffictype"
    id: str
    physicalnetworkid: str


class ProviderResponse(ResponseObject):
    object_name = "networkserviceprovider"
    id: str
    name: str
    physicalnetworkid: str
    destinationphysicalnetworkid: str | None = None
    state: str
    servicelist: list[str] = Field(default_factory=list)
    canenableindividualservice: bool = False


class VirtualRouterElementResponse(ResponseObject):
    object_name = "virtualrouterelement"
    id: str
    nspid: str
    enabled: bool
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None


class CapabilityObject(ResponseObject):
    name: str
    value: str
    canchooseservicecapability: bool = False


class ProviderObject(ResponseObject):
    name: str


class ServiceObject(ResponseObject):
    name: str
    provider: list[ProviderObject] = Field(default_factory=list)
    capability: list[CapabilityObject] = Field(default_factory=list)


class NetworkOfferingResponse(ResponseObject):
    object_name = "networkoffering"
    id: str
    name: str
    displaytext: str
    traffictype: str
    guestiptype: str | None = None
    state: str
    availability: str
    isdefault: bool
    specifyvlan: bool
    specifyipranges: bool
    conservemode: bool
    egressdefaultpolicy: bool
    ispersistent: bool
    forvpc: bool = False
    networkrate: int | None = None
    tags: str | None = None
    created: str | None = None
    service: list[ServiceObject] = Field(default_factory=list)
    internetprotocol: str = "IPv4"


class NetworkResponse(ResponseObject):
    object_name = "network"
    id: str
    name: str
    displaytext: str | None = None
    broadcastdomaintype: str
    broadcasturi: str | None = None
    traffictype: str
    type: str
    gateway: str | None = None
    netmask: str | None = None
    cidr: str | None = None
    zoneid: str
    zonename: str
    networkofferingid: str
    networkofferingname: str
    networkofferingdisplaytext: str
    networkofferingconservemode: bool
    networkofferingavailability: str
    issystem: bool = False
    state: str
    related: str
    dns1: str | None = None
    dns2: str | None = None
    acltype: str
    subdomainaccess: bool | None = None
    account: str | None = None
    domainid: str
    domain: str
    domainpath: str | None = None
    isdefault: bool
    canusefordeploy: bool = True
    ispersistent: bool = False
    specifyipranges: bool
    physicalnetworkid: str | None = None
    restartrequired: bool = False
    networkdomain: str | None = None
    displaynetwork: bool = True
    redundantrouter: bool = False
    strechedl2subnet: bool = False
    supportsvmautoscaling: bool = False
    internetprotocol: str = "IPv4"
    service: list[ServiceObject] = Field(default_factory=list)
    tags: list = Field(default_factory=list)
    created: str | None = None


class PublicIpResponse(ResponseObject):
    object_name = "ipaddress"
    id: str
    ipaddress: str
    allocated: str | None = None
    zoneid: str
    zonename: str
    issourcenat: bool = False
    isstaticnat: bool = False
    issystem: bool = False
    isportable: bool = False
    forvirtualnetwork: bool
    forsystemvms: bool = False
    vlanid: str
    vlanname: str
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None
    associatednetworkid: str | None = None
    associatednetworkname: str | None = None
    networkid: str | None = None
    physicalnetworkid: str | None = None
    virtualmachineid: str | None = None
    virtualmachinename: str | None = None
    virtualmachinedisplayname: str | None = None
    virtualmachinetype: str | None = None
    vmipaddress: str | None = None
    state: str
    purpose: str | None = None
    fordisplay: bool = True
    hasrules: bool = False
    tags: list = Field(default_factory=list)


class ListedPublicIp(PublicIpResponse):
    object_name = "publicipaddress"


def _services(offering: NetworkOffering) -> list[ServiceObject]:
    services = json.loads(offering.services or "{}")
    return [ServiceObject(name=name, provider=[ProviderObject(name=provider)]) for name, provider in services.items()]


def physical_network_views(session: Session, rows: list[PhysicalNetwork]) -> list[PhysicalNetworkResponse]:
    zones = _by_id(session, Zone, {r.zone_id for r in rows})
    domains = _by_id(session, Domain, {r.domain_id for r in rows})
    return [PhysicalNetworkResponse(
        id=r.uuid, name=r.name, zoneid=zones[r.zone_id].uuid, zonename=zones[r.zone_id].name, state=r.state,
        vlan=r.vlan, networkspeed=r.speed, isolationmethods=r.isolation_methods,
        broadcastdomainrange=r.broadcast_domain_range, tags=r.tags,
        domainid=domains[r.domain_id].uuid if r.domain_id in domains else None) for r in rows]


def _traffic_fields(session: Session, rows: list[TrafficType]) -> list[dict]:
    physicals = _by_id(session, PhysicalNetwork, {r.physical_network_id for r in rows})
    return [{"id": r.uuid, "traffictype": r.traffic_type, "physicalnetworkid": physicals[r.physical_network_id].uuid,
             "kvmnetworklabel": r.kvm_label, "xennetworklabel": r.xen_label, "vmwarenetworklabel": r.vmware_label,
             "hypervnetworklabel": r.hyperv_label, "ovm3networklabel": r.ovm3_label} for r in rows]


def traffic_type_views(session: Session, rows: list[TrafficType]) -> list[TrafficTypeResponse]:
    return [TrafficTypeResponse(**fields) for fields in _traffic_fields(session, rows)]


def listed_traffic_type_views(session: Session, rows: list[TrafficType]) -> list[ListedTrafficType]:
    return [ListedTrafficType(**{k: v for k, v in fields.items() if v is not None})
            for fields in _traffic_fields(session, rows)]


def provider_views(session: Session, rows: list[ServiceProvider]) -> list[ProviderResponse]:
    physicals = _by_id(session, PhysicalNetwork, {r.physical_network_id for r in rows}
                       | {r.destination_physical_network_id for r in rows})
    return [ProviderResponse(
        id=r.uuid, name=r.provider_name, physicalnetworkid=physicals[r.physical_network_id].uuid, state=r.state,
        destinationphysicalnetworkid=(physicals[r.destination_physical_network_id].uuid
                                      if r.destination_physical_network_id in physicals else None),
        servicelist=[s for s in (r.services or "").split(",") if s]) for r in rows]


def router_element_views(session: Session, rows: list[VirtualRouterElement]) -> list[VirtualRouterElementResponse]:
    nsps = _by_id(session, ServiceProvider, {r.nsp_id for r in rows})
    root = session.get(Domain, 1)
    return [VirtualRouterElementResponse(id=r.uuid, nspid=nsps[r.nsp_id].uuid, enabled=r.enabled, account="system",
                                         domainid=root.uuid if root else None, domain=root.name if root else None)
            for r in rows]


def offering_views(rows: list[NetworkOffering]) -> list[NetworkOfferingResponse]:
    return [NetworkOfferingResponse(
        id=r.uuid, name=r.name, displaytext=r.display_text, traffictype=r.traffic_type, guestiptype=r.guest_type,
        state=r.state, availability=r.availability, isdefault=r.is_default, specifyvlan=r.specify_vlan,
        specifyipranges=r.specify_ip_ranges, conservemode=r.conserve_mode, egressdefaultpolicy=r.egress_default_policy,
        ispersistent=r.is_persistent, tags=r.tags, created=cs_date(r.created), service=_services(r)) for r in rows]


def network_views(session: Session, rows: list[Network]) -> list[NetworkResponse]:
    tag_map = tag_service.tags_of(session, "Network", [r.id for r in rows])
    zones = _by_id(session, Zone, {r.zone_id for r in rows})
    offerings = _by_id(session, NetworkOffering, {r.network_offering_id for r in rows})
    physicals = _by_id(session, PhysicalNetwork, {r.physical_network_id for r in rows})
    domains = _by_id(session, Domain, {r.domain_id for r in rows})
    accounts = _by_id(session, Account, {r.account_id for r in rows if r.acl_type == "Account"})
    first_ranges = {}
    if rows:
        for vlan in session.scalars(select(VlanRange).where(VlanRange.network_id.in_([r.id for r in rows]),
                                                            VlanRange.removed.is_(None)).order_by(VlanRange.id)):
            first_ranges.setdefault(vlan.network_id, vlan)
    views = []
    for r in rows:
        zone, offering, domain = zones[r.zone_id], offerings[r.network_offering_id], domains[r.domain_id]
        vlan = first_ranges.get(r.id)
        gateway, cidr, netmask = r.gateway, r.cidr, None
        if vlan is not None and zone.network_type == "Advanced":
            from management.infra import net

            gateway, netmask = vlan.gateway, vlan.netmask
            cidr = str(net.network_of(vlan.gateway, vlan.netmask))
        account = accounts.get(r.account_id)
        views.append(NetworkResponse(tags=tag_map.get(r.id, []),
            id=r.uuid, name=r.name, displaytext=r.display_text, broadcastdomaintype=r.broadcast_domain_type,
            broadcasturi=r.broadcast_uri, traffictype=r.traffic_type, type=r.guest_type, gateway=gateway,
            netmask=netmask, cidr=cidr, zoneid=zone.uuid, zonename=zone.name, networkofferingid=offering.uuid,
            networkofferingname=offering.name, networkofferingdisplaytext=offering.display_text,
            networkofferingconservemode=offering.conserve_mode, networkofferingavailability=offering.availability,
            state=r.state, related=r.uuid, dns1=zone.dns1, dns2=zone.dns2, acltype=r.acl_type,
            subdomainaccess=r.subdomain_access if r.acl_type == "Domain" else None,
            account=account.account_name if account else None, domainid=domain.uuid, domain=domain.name,
            domainpath=domain.path, isdefault=offering.is_default, specifyipranges=offering.specify_ip_ranges,
            physicalnetworkid=physicals[r.physical_network_id].uuid if r.physical_network_id in physicals else None,
            networkdomain=r.network_domain or zone.domain, displaynetwork=r.display_network,
            service=_services(offering), created=cs_date(r.created)))
    return views


def public_ip_views(session: Session, rows: list[IpAddress], *, listed: bool = False) -> list[PublicIpResponse]:
    tag_map = tag_service.tags_of(session, "PublicIpAddress", [r.id for r in rows])
    from management.compute.vm_models import VMInstance

    zones = _by_id(session, Zone, {r.zone_id for r in rows})
    vlans = _by_id(session, VlanRange, {r.vlan_id for r in rows})
    accounts = _by_id(session, Account, {r.account_id for r in rows})
    domains = _by_id(session, Domain, {r.domain_id for r in rows})
    networks = _by_id(session, Network, {r.network_id for r in rows})
    vms = _by_id(session, VMInstance, {r.vm_id for r in rows if r.one_to_one_nat})
    cls = ListedPublicIp if listed else PublicIpResponse
    views = []
    for r in rows:
        zone, vlan = zones[r.zone_id], vlans[r.vlan_id]
        account, domain, network = accounts.get(r.account_id), domains.get(r.domain_id), networks.get(r.network_id)
        vm = vms.get(r.vm_id) if r.one_to_one_nat else None
        views.append(cls(tags=tag_map.get(r.id, []),
            id=r.uuid, ipaddress=r.address, allocated=cs_date(r.allocated), zoneid=zone.uuid, zonename=zone.name,
            issourcenat=r.source_nat, isstaticnat=r.one_to_one_nat, forvirtualnetwork=vlan.for_virtual_network,
            vlanid=vlan.uuid, vlanname=vlan.vlan_tag if "://" in vlan.vlan_tag else f"vlan://{vlan.vlan_tag}",
            account=account.account_name if account else None, domainid=domain.uuid if domain else None,
            domain=domain.name if domain else None, domainpath=domain.path if domain else None,
            associatednetworkid=network.uuid if network else None,
            associatednetworkname=network.name if network else None,
            virtualmachineid=vm.uuid if vm else None, virtualmachinename=vm.name if vm else None,
            virtualmachinedisplayname=(vm.display_name or vm.name) if vm else None,
            virtualmachinetype="UserVm" if vm else None, vmipaddress=r.vm_ip_address if vm else None,
            state=r.state, purpose="StaticNat" if r.one_to_one_nat else None, hasrules=r.one_to_one_nat))
    return views


def _by_id(session: Session, model, ids) -> dict:
    ids = {i for i in ids if i}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}


class SecondaryIpObject(ResponseObject):
    id: str
    ipaddress: str


class NicResponse(ResponseObject):
    object_name = "nic"
    id: str
    virtualmachineid: str
    networkid: str | None = None
    networkname: str | None = None
    ipaddress: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    macaddress: str
    isdefault: bool
    traffictype: str
    type: str | None = None
    broadcasturi: str | None = None
    isolationuri: str | None = None
    deviceid: str
    secondaryip: list[SecondaryIpObject] = Field(default_factory=list)
    publicip: str | None = None
    publicipid: str | None = None


class NicSecondaryIpResponse(ResponseObject):
    object_name = "nicsecondaryip"
    id: str
    ipaddress: str
    nicid: str
    networkid: str | None = None
    virtualmachineid: str


def nic_views(session: Session, nics: list) -> list[NicResponse]:
    from management.compute.vm_models import VMInstance
    from management.network.models import NicSecondaryIp

    vms = _by_id(session, VMInstance, {n.vm_id for n in nics})
    networks = _by_id(session, Network, {n.network_id for n in nics})
    secondary: dict[int, list] = {}
    publics: dict[tuple[int, str], IpAddress] = {}
    if nics:
        for row in session.scalars(select(NicSecondaryIp).where(NicSecondaryIp.nic_id.in_([n.id for n in nics]))
                                   .order_by(NicSecondaryIp.id)):
            secondary.setdefault(row.nic_id, []).append(row)
        for ip in session.scalars(select(IpAddress).where(IpAddress.vm_id.in_(set(vms)),
                                                          IpAddress.one_to_one_nat.is_(True))):
            publics[(ip.vm_id, ip.vm_ip_address)] = ip
    views = []
    for n in nics:
        network = networks.get(n.network_id)
        public = publics.get((n.vm_id, n.ip_address))
        views.append(NicResponse(
            id=n.uuid, virtualmachineid=vms[n.vm_id].uuid, networkid=network.uuid if network else None,
            networkname=network.name if network else None, ipaddress=n.ip_address, netmask=n.netmask,
            gateway=n.gateway, macaddress=n.mac_address, isdefault=n.is_default, traffictype=n.traffic_type,
            type=network.guest_type if network else None, broadcasturi=n.broadcast_uri, isolationuri=n.isolation_uri,
            deviceid=str(n.device_id), secondaryip=[SecondaryIpObject(id=s.uuid, ipaddress=s.ip_address)
                                                    for s in secondary.get(n.id, [])],
            publicip=public.address if public else None, publicipid=public.uuid if public else None))
    return views


def secondary_ip_views(session: Session, rows: list) -> list[NicSecondaryIpResponse]:
    from management.compute.vm_models import Nic, VMInstance

    nics = _by_id(session, Nic, {r.nic_id for r in rows})
    vms = _by_id(session, VMInstance, {r.vm_id for r in rows})
    networks = _by_id(session, Network, {r.network_id for r in rows})
    return [NicSecondaryIpResponse(id=r.uuid, ipaddress=r.ip_address, nicid=nics[r.nic_id].uuid,
                                   networkid=networks[r.network_id].uuid if r.network_id in networks else None,
                                   virtualmachineid=vms[r.vm_id].uuid) for r in rows]


class PortForwardingRuleResponse(ResponseObject):
    object_name = "portforwardingrule"
    id: str


class IpForwardingRuleResponse(ResponseObject):
    object_name = "ipforwardingrule"
    id: str
