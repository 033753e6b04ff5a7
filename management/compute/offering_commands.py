"""Service (compute) and disk offering commands, their response objects and views."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from management.api.native.params import Param, map_as_dict
from management.api.native.registry import ADMINS, Command, ListCommand, ListResult, Success, command
from management.api.native.responses import ResponseObject, cs_date
from management.compute import offerings
from management.compute.models import PROVISIONING_TYPES, STORAGE_TYPES, DiskOffering, ServiceOffering
from management.context import Context
from management.iam.models import Domain
from management.infra.models import Zone

STATES = ("Active", "Inactive")


# --- responses ----------------------------------------------------------------------------------------

class ServiceOfferingResponse(ResponseObject):
    object_name = "serviceoffering"
    id: str
    name: str
    displaytext: str | None = None
    cpunumber: int | None = None
    cpuspeed: int | None = None
    memory: int | None = None
    created: str | None = None
    storagetype: str | None = None
    offerha: bool = False
    limitcpuuse: bool = False
    isvolatile: bool = False
    iscustomized: bool = False
    issystem: bool = False
    systemvmtype: str | None = None
    defaultuse: bool = False
    hosttags: str | None = None
    storagetags: str | None = None
    rootdisksize: int | None = None
    provisioningtype: str | None = None
    networkrate: int | None = None
    dynamicscalingenabled: bool = True
    iscustomizediops: bool | None = None
    domain: str | None = None
    domainid: str | None = None
    zone: str | None = None
    zoneid: str | None = None
    state: str | None = None
    serviceofferingdetails: dict[str, str] | None = None
    hasannotations: bool = False


class DiskOfferingResponse(ResponseObject):
    object_name = "diskoffering"
    id: str
    name: str
    displaytext: str | None = None
    disksize: int = 0
    iscustomized: bool = False
    storagetype: str | None = None
    tags: str | None = None
    provisioningtype: str | None = None
    miniops: int | None = None
    maxiops: int | None = None
    iscustomizediops: bool | None = None
    displayoffering: bool = True
    created: str | None = None
    domain: str | None = None
    domainid: str | None = None
    zone: str | None = None
    zoneid: str | None = None
    state: str | None = None
    disksizestrictness: bool = False
    encrypt: bool = False
    details: dict[str, str] | None = None
    hasannotations: bool = False


def _joined(items, attr: str) -> str | None:
    return ",".join(getattr(i, attr) for i in items) if items else None


def service_offering_views(session: Session, rows: list[ServiceOffering]) -> list[ServiceOfferingResponse]:
    domains, zones = offerings.scopes_of(session, offerings.SERVICE, [o.id for o in rows])
    views = []
    for o in rows:
        ds, zs = domains.get(o.id, []), zones.get(o.id, [])
        views.append(ServiceOfferingResponse(
            id=o.uuid, name=o.name, displaytext=o.display_text, cpunumber=o.cpu, cpuspeed=o.speed,
            memory=o.ram_size, created=cs_date(o.created), storagetype=o.storage_type, offerha=o.offer_ha,
            limitcpuuse=o.limit_cpu_use, isvolatile=o.is_volatile, iscustomized=o.customized,
            issystem=o.is_system, systemvmtype=o.system_vm_type, defaultuse=o.default_use, hosttags=o.host_tags,
            storagetags=o.storage_tags, rootdisksize=o.root_disk_size, provisioningtype=o.provisioning_type,
            networkrate=o.network_rate, dynamicscalingenabled=o.dynamic_scaling_enabled,
            domain=_joined(ds, "name"), domainid=_joined(ds, "uuid"), zone=_joined(zs, "name"),
            zoneid=_joined(zs, "uuid"), state=o.state,
            serviceofferingdetails=json.loads(o.details) if o.details else None))
    return views


def disk_offering_views(session: Session, rows: list[DiskOffering]) -> list[DiskOfferingResponse]:
    domains, zones = offerings.scopes_of(session, offerings.DISK, [o.id for o in rows])
    views = []
    for o in rows:
        ds, zs = domains.get(o.id, []), zones.get(o.id, [])
        views.append(DiskOfferingResponse(
            id=o.uuid, name=o.name, displaytext=o.display_text, disksize=o.disk_size // offerings.GIB,
            iscustomized=o.customized, storagetype=o.storage_type, tags=o.tags,
            provisioningtype=o.provisioning_type, miniops=o.min_iops, maxiops=o.max_iops,
            iscustomizediops=o.customized_iops, displayoffering=o.display_offering, created=cs_date(o.created),
            domain=_joined(ds, "name"), domainid=_joined(ds, "uuid"), zone=_joined(zs, "name"),
            zoneid=_joined(zs, "uuid"), state=o.state, details=json.loads(o.details) if o.details else None))
    return views


# --- service offerings ------------------------------------------------------------------------------------

@command("createServiceOffering", response=ServiceOfferingResponse, roles=ADMINS,
         java_class="org.apache.cloudstack.api.command.admin.offering.CreateServiceOfferingCmd")
class CreateServiceOffering(Command):
    """Creates a service offering."""

    name = Param(required=True, description="The name of the service offering")
    displaytext = Param(required=True, length=4096, description="The display text of the service offering, "
                                                                "defaults to 'name'.")
    cpunumber = Param("integer", min=1, description="The CPU number of the service offering")
    cpuspeed = Param("integer", min=1, description="The CPU speed of the service offering in MHz.")
    memory = Param("integer", min=1, description="The total memory of the service offering in MB")
    customized = Param("boolean", description="Whether service offering allows custom CPU and memory values. "
                                              "Default: true when cpunumber and memory are not given")
    mincpunumber = Param("integer", min=1, description="The minimum number of CPUs to be set with Custom "
                                                       "Compute Offering")
    maxcpunumber = Param("integer", min=1, description="The maximum number of CPUs to be set with Custom "
                                                       "Compute Offering")
    minmemory = Param("integer", min=1, description="The minimum memory size of the Custom Service Offering "
                                                    "in MB")
    maxmemory = Param("integer", min=1, description="The maximum memory size of the Custom Service Offering "
                                                    "in MB")
    storagetype = Param(choices=STORAGE_TYPES, description="The storage type of the service offering. Values are "
                                                           "local and shared.")
    offerha = Param("boolean", default=False, description="The HA for the service offering")
    limitcpuuse = Param("boolean", default=False, description="Restrict the CPU usage to committed service "
                                                              "offering")
    isvolatile = Param("boolean", default=False, description="True if the virtual machine needs to be volatile so "
                                                             "that on every reboot of VM, original root disk is "
                                                             "dettached then destroyed and a fresh root disk is "
                                                             "created and attached to VM")
    dynamicscalingenabled = Param("boolean", default=True, description="true if virtual machine needs to be "
                                                                       "dynamically scalable of cpu or memory")
    hosttags = Param(length=4096, description="The host tag for this service offering.")
    tags = Param(length=4096, description="the tags for this service offering.")
    rootdisksize = Param("long", min=1, description="the Root disk size in GB.")
    provisioningtype = Param(choices=PROVISIONING_TYPES, description="provisioning type used to create volumes. "
                                                                     "Valid values are thin, sparse, fat.")
    networkrate = Param("integer", min=0, description="data transfer rate in megabits per second allowed. "
                                                      "Supported only for non-System offering and system "
                                                      "offerings having \"domainrouter\" systemvmtype")
    issystem = Param("boolean", default=False, description="is this a system vm offering")
    systemvmtype = Param(description="the system VM type. Possible types are \"domainrouter\", \"consoleproxy\" and "
                                     "\"secondarystoragevm\".")
    domainid = Param("list", item_type="uuid", entity=Domain, description="the ID of the containing domain(s), "
                                                                          "null for public offerings")
    zoneid = Param("list", item_type="uuid", entity=Zone, description="the ID of the containing zone(s), null for "
                                                                      "public offerings")
    serviceofferingdetails = Param("map", description="details for planner, used to store specific parameters")

    def handle(self, ctx: Context) -> ServiceOfferingResponse:
        offering = offerings.create_service_offering(
            ctx.session, ctx.caller, name=self.name, display_text=self.displaytext, cpu=self.cpunumber,
            speed=self.cpuspeed, memory=self.memory, customized=self.customized, min_cpu=self.mincpunumber,
            max_cpu=self.maxcpunumber, min_memory=self.minmemory, max_memory=self.maxmemory,
            storage_type=self.storagetype, offer_ha=self.offerha, limit_cpu_use=self.limitcpuuse,
            host_tags=self.hosttags, storage_tags=self.tags, root_disk_size=self.rootdisksize,
            provisioning_type=self.provisioningtype, is_system=self.issystem, system_vm_type=self.systemvmtype,
            is_volatile=self.isvolatile, dynamic_scaling=self.dynamicscalingenabled, network_rate=self.networkrate,
            domains=self.domainid, zones=self.zoneid,
            details=map_as_dict(self.maps.get("serviceofferingdetails")))
        return service_offering_views(ctx.session, [offering])[0]


@command("updateServiceOffering", response=ServiceOfferingResponse, roles=ADMINS)
class UpdateServiceOffering(Command):
    """Updates a service offering."""

    id = Param("uuid", entity=ServiceOffering, required=True, description="the ID of the service offering to be "
                                                                          "updated")
    name = Param(description="the name of the service offering to be updated")
    displaytext = Param(length=4096, description="the display text of the service offering to be updated")
    sortkey = Param("integer", description="sort key of the service offering, integer")
    domainid = Param(length=4096, description="the ID of the containing domain(s) as comma separated string, "
                                              "public for public offerings")
    zoneid = Param(length=4096, description="the ID of the containing zone(s) as comma separated string, all for "
                                            "all zones offerings")
    hosttags = Param(length=4096, description="comma-separated list of host tags for the service offering.")
    storagetags = Param(length=4096, description="comma-separated list of tags for the service offering, tags "
                                                 "should match with existing storage pool tags")
    state = Param(choices=STATES, description="state of the service offering")

    def handle(self, ctx: Context) -> ServiceOfferingResponse:
        offering = offerings.update_service_offering(
            ctx.session, ctx.caller, self.id, name=self.name, display_text=self.displaytext, sort_key=self.sortkey,
            domains=offerings.parse_domain_list(ctx.session, self.domainid),
            zones=offerings.parse_zone_list(ctx.session, self.zoneid), host_tags=self.hosttags,
            storage_tags=self.storagetags, state=self.state)
        return service_offering_views(ctx.session, [offering])[0]


@command("deleteServiceOffering", roles=ADMINS)
class DeleteServiceOffering(Command):
    """Deletes a service offering."""

    id = Param("uuid", entity=ServiceOffering, required=True, description="the ID of the service offering")

    def handle(self, ctx: Context) -> Success:
        offerings.delete_service_offering(ctx.session, ctx.caller, self.id)
        return Success()


@command("listServiceOfferings", response=ServiceOfferingResponse, list_key="serviceoffering")
class ListServiceOfferings(ListCommand):
    """Lists all available service offerings."""

    id = Param("uuid", entity=ServiceOffering, description="ID of the service offering")
    name = Param(description="name of the service offering")
    domainid = Param("uuid", entity=Domain, description="the ID of the domain associated with the service offering")
    zoneid = Param("uuid", entity=Zone, description="id of zone disk offering is associated with")
    issystem = Param("boolean", description="is this a system vm offering")
    systemvmtype = Param(description="the system VM type. Possible types are \"consoleproxy\", "
                                     "\"secondarystoragevm\" or \"domainrouter\".")
    cpunumber = Param("integer", description="the CPU number that listed offerings must support")
    memory = Param("integer", description="the RAM memory that listed offering must support")
    cpuspeed = Param("integer", description="the CPU speed that listed offerings must support")
    storagetype = Param(choices=STORAGE_TYPES, description="the storage type of the service offering. Values are "
                                                           "local and shared.")
    state = Param(choices=("Active", "Inactive", "all"), description="Filter by state of the service offering. "
                                                                     "Defaults to 'Active'.")
    isrecursive = Param("boolean", default=False, description="defaults to false, but if true, lists all resources "
                                                              "from the parent specified by the domainId till leaves.")
    listall = Param("boolean", default=False, description="If set to false, list only resources belonging to the "
                                                          "command's caller; if set to true - list resources that "
                                                          "the caller is authorized to see.")

    def handle(self, ctx: Context) -> ListResult:
        offset, limit = self.window(ctx.session)
        rows, total = offerings.list_service_offerings(
            ctx.session, ctx.caller, offering_id=self.id.id if self.id else None, name=self.name,
            keyword=self.keyword, domain=self.domainid, zone=self.zoneid, is_system=self.issystem,
            system_vm_type=self.systemvmtype, cpu=self.cpunumber, memory=self.memory, speed=self.cpuspeed,
            storage_type=self.storagetype, state=self.state, offset=offset, limit=limit)
        return ListResult(service_offering_views(ctx.session, rows), total)


# --- disk offerings ---------------------------------------------------------------------------------------

@command("createDiskOffering", response=DiskOfferingResponse, roles=ADMINS,
         java_class="org.apache.cloudstack.api.command.admin.offering.CreateDiskOfferingCmd")
class CreateDiskOffering(Command):
    """Creates a disk offering."""

    name = Param(required=True, description="name of the disk offering")
    displaytext = Param(required=True, length=4096, description="An alternate display text of the disk offering, "
                                                                "defaults to 'name'.")
    disksize = Param("long", description="size of the disk offering in GB (1GB = 1,073,741,824 bytes)")
    customized = Param("boolean", description="whether disk offering size is custom or not")
    storagetype = Param(choices=STORAGE_TYPES, description="the storage type of the disk offering. Values are local "
                                                           "and shared.")
    tags = Param(length=4096, description="tags for the disk offering")
    provisioningtype = Param(choices=PROVISIONING_TYPES, description="provisioning type used to create volumes. "
                                                                     "Valid values are thin, sparse, fat.")
    miniops = Param("long", min=0, description="min iops of the disk offering")
    maxiops = Param("long", min=0, description="max iops of the disk offering")
    customizediops = Param("boolean", description="whether disk offering iops is custom or not")
    displayoffering = Param("boolean", default=True, description="an optional field, whether to display the "
                                                                 "offering to the end user or not.")
    domainid = Param("list", item_type="uuid", entity=Domain, description="the ID of the containing domain(s), "
                                                                          "null for public offerings")
    zoneid = Param("list", item_type="uuid", entity=Zone, description="the ID of the containing zone(s), null for "
                                                                      "public offerings")
    details = Param("map", description="details to specify disk offering parameters")

    def handle(self, ctx: Context) -> DiskOfferingResponse:
        offering = offerings.create_disk_offering(
            ctx.session, ctx.caller, name=self.name, display_text=self.displaytext, disk_size_gb=self.disksize,
            customized=self.customized, storage_type=self.storagetype, tags=self.tags,
            provisioning_type=self.provisioningtype, min_iops=self.miniops, max_iops=self.maxiops,
            customized_iops=self.customizediops, display_offering=self.displayoffering, domains=self.domainid,
            zones=self.zoneid, details=map_as_dict(self.maps.get("details")))
        return disk_offering_views(ctx.session, [offering])[0]


@command("updateDiskOffering", response=DiskOfferingResponse, roles=ADMINS)
class UpdateDiskOffering(Command):
    """Updates a disk offering."""

    id = Param("uuid", entity=DiskOffering, required=True, description="ID of the disk offering")
    name = Param(description="updates name of the disk offering with this value")
    displaytext = Param(length=4096, description="updates alternate display text of the disk offering with this "
                                                 "value")
    sortkey = Param("integer", description="sort key of the disk offering, integer")
    tags = Param(length=4096, description="comma-separated list of tags for the disk offering, tags should match "
                                          "with existing storage pool tags")
    displayoffering = Param("boolean", description="an optional field, whether to display the offering to the end "
                                                   "user or not.")
    domainid = Param(length=4096, description="the ID of the containing domain(s) as comma separated string, "
                                              "public for public offerings")
    zoneid = Param(length=4096, description="the ID of the containing zone(s) as comma separated string, all for "
                                            "all zones offerings")
    state = Param(choices=STATES, description="state of the disk offering")

    def handle(self, ctx: Context) -> DiskOfferingResponse:
        offering = offerings.update_disk_offering(
            ctx.session, ctx.caller, self.id, name=self.name, display_text=self.displaytext, sort_key=self.sortkey,
            tags=self.tags, display_offering=self.displayoffering,
            domains=offerings.parse_domain_list(ctx.session, self.domainid),
            zones=offerings.parse_zone_list(ctx.session, self.zoneid), state=self.state)
        return disk_offering_views(ctx.session, [offering])[0]


@command("deleteDiskOffering", roles=ADMINS)
class DeleteDiskOffering(Command):
    """Deletes a disk offering."""

    id = Param("uuid", entity=DiskOffering, required=True, description="ID of the disk offering")

    def handle(self, ctx: Context) -> Success:
        offerings.delete_disk_offering(ctx.session, ctx.caller, self.id)
        return Success()


@command("listDiskOfferings", response=DiskOfferingResponse, list_key="diskoffering")
class ListDiskOfferings(ListCommand):
    """Lists all available disk offerings."""

    id = Param("uuid", entity=DiskOffering, description="ID of the disk offering")
    name = Param(description="name of the disk offering")
    domainid = Param("uuid", entity=Domain, description="the ID of the domain of the disk offering.")
    zoneid = Param("uuid", entity=Zone, description="id of zone disk offering is associated with")
    storagetype = Param(choices=STORAGE_TYPES, description="the storage type of the disk offering. Values are local "
                                                           "and shared.")
    state = Param(choices=("Active", "Inactive", "all"), description="Filter by state of the disk offering. "
                                                                     "Defaults to 'Active'.")
    isrecursive = Param("boolean", default=False, description="defaults to false, but if true, lists all resources "
                                                              "from the parent specified by the domainId till leaves.")
    listall = Param("boolean", default=False, description="If set to false, list only resources belonging to the "
                                                          "command's caller; if set to true - list resources that "
                                                          "the caller is authorized to see.")

    def handle(self, ctx: Context) -> ListResult:
        offset, limit = self.window(ctx.session)
        rows, total = offerings.list_disk_offerings(
            ctx.session, ctx.caller, offering_id=self.id.id if self.id else None, name=self.name,
            keyword=self.keyword, domain=self.domainid, zone=self.zoneid, storage_type=self.storagetype,
            state=self.state, offset=offset, limit=limit)
        return ListResult(disk_offering_views(ctx.session, rows), total)
