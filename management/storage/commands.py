"""Primary storage, image store, template/ISO and guest OS commands."""

from __future__ import annotations

from sqlalchemy import or_, select

from management.api.native.params import Param, map_as_dict
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
from management.context import Context
from management.errors import InvalidParameter
from management.iam import access
from management.iam.models import Domain
from management.infra.models import Cluster, Host, Pod, Zone
from management.pagination import page
from management.storage import capacity, images, pools, tasks  # noqa: F401  (capacity provider, download task)
from management.storage import templates as tmpl
from management.storage.models import GuestOs, GuestOsCategory, ImageStore, StoragePool, Template
from management.storage.responses import (
    ImageStoreResponse,
    IsoPermissionResponse,
    IsoResponse,
    OsCategoryResponse,
    OsTypeResponse,
    StoragePoolResponse,
    TemplatePermissionResponse,
    TemplateResponse,
    os_category_views,
    os_type_views,
    pool_views,
    store_views,
    template_views,
)

# --- primary storage -----------------------------------------------------------------------------------------


@command("createStoragePool", response=StoragePoolResponse, roles=ADMINS)
class CreateStoragePool(Command):
    """Creates a storage pool."""

    zoneid = Param("uuid", entity=Zone, required=True, description="the Zone ID for the storage pool")
    name = Param(required=True, description="the name for the storage pool")
    url = Param(required=True, length=1024, description="the URL of the storage pool")
    podid = Param("uuid", entity=Pod, description="the Pod ID for the storage pool")
    clusterid = Param("uuid", entity=Cluster, description="the cluster ID for the storage pool")
    scope = Param(description="the scope of the storage: cluster or zone")
    tags = Param(description="the tags for the storage pool")
    capacitybytes = Param("long", min=0, description="bytes CloudStack can provision from this storage pool")
    provider = Param(description="the storage provider name")
    hypervisor = Param(description="hypervisor type of the hosts in zone that will be attached to this storage "
                                   "pool. KVM, VMware supported as of now.")
    details = Param("map", description="the details for the storage pool")

    def handle(self, ctx: Context) -> StoragePoolResponse:
        pool = pools.create_pool(ctx.session, ctx.caller, zone=self.zoneid, name=self.name, url=self.url,
                                 pod=self.podid, cluster=self.clusterid, scope=self.scope,
                                 hypervisor=self.hypervisor, tags=self.tags, capacity_bytes=self.capacitybytes,
                                 provider=self.provider, details=map_as_dict(self.maps.get("details")))
        return pool_views(ctx.session, [pool])[0]


@command("updateStoragePool", response=StoragePoolResponse, roles=ADMINS)
class UpdateStoragePool(Command):
    """Updates a storage pool."""

    id = Param("uuid", entity=StoragePool, required=True, description="the Id of the storage pool")
    name = Param(description="Change the name of the storage pool")
    tags = Param(description="comma-separated list of tags for the storage pool")
    enabled = Param("boolean", description="false to disable the pool for allocation of new volumes, true to enable "
                                           "it back.")
    capacitybytes = Param("long", min=0, description="bytes CloudStack can provision from this storage pool")

    def handle(self, ctx: Context) -> StoragePoolResponse:
        enabled = self.enabled if "enabled" in self.raw else None
        pool = pools.update_pool(ctx.session, ctx.caller, self.id, name=self.name, tags=self.tags, enabled=enabled,
                                 capacity_bytes=self.capacitybytes)
        return pool_views(ctx.session, [pool])[0]


@command("deleteStoragePool", roles=ADMINS)
class DeleteStoragePool(Command):
    """Deletes a storage pool."""

    id = Param("uuid", entity=StoragePool, required=True, description="Storage pool id")
    forced = Param("boolean", default=False, description="Force destroy storage pool (force expunge volumes in "
                                                         "Destroyed state as a part of pool removal)")

    def handle(self, ctx: Context) -> Success:
        pools.delete_pool(ctx.session, ctx.caller, self.id, forced=self.forced)
        return Success()


@command("enableStorageMaintenance", response=StoragePoolResponse, is_async=True, roles=ADMINS,
         event="MAINT.PREPARE.PS", instance_type="StoragePool",
         java_class="org.apache.cloudstack.api.command.admin.storage.PreparePrimaryStorageForMaintenanceCmd")
class EnableStorageMaintenance(Command):
    """Puts storage pool into maintenance state"""

    id = Param("uuid", entity=StoragePool, required=True, description="Primary storage ID")

    def prepare(self, ctx: Context) -> Prepared:
        pools.check_maintenance_start(self.id)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> StoragePoolResponse:
        return pool_views(ctx.session, [pools.start_maintenance(ctx.session, ctx.caller, self.id)])[0]


@command("cancelStorageMaintenance", response=StoragePoolResponse, is_async=True, roles=ADMINS,
         event="MAINT.CANCEL.PS", instance_type="StoragePool",
         java_class="org.apache.cloudstack.api.command.admin.storage.CancelPrimaryStorageMaintenanceCmd")
class CancelStorageMaintenance(Command):
    """Cancels maintenance for primary storage"""

    id = Param("uuid", entity=StoragePool, required=True, description="the primary storage ID")

    def prepare(self, ctx: Context) -> Prepared:
        pools.check_maintenance_cancel(self.id)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> StoragePoolResponse:
        return pool_views(ctx.session, [pools.cancel_maintenance(ctx.session, ctx.caller, self.id)])[0]


@command("listStoragePools", response=StoragePoolResponse, list_key="storagepool", roles=ADMINS)
class ListStoragePools(ListCommand):
    """Lists storage pools."""

    id = Param("uuid", entity=StoragePool, description="the ID of the storage pool")
    name = Param(description="the name of the storage pool")
    zoneid = Param("uuid", entity=Zone, description="the Zone ID for the storage pool")
    podid = Param("uuid", entity=Pod, description="the Pod ID for the storage pool")
    clusterid = Param("uuid", entity=Cluster, description="list storage pools belongig to the specific cluster")
    hostid = Param("uuid", entity=Host, description="host ID of the storage pools")
    ipaddress = Param(description="the IP address for the storage pool")
    path = Param(description="the storage pool path")
    scope = Param(description="the scope of the storage pool", choices=("CLUSTER", "ZONE", "HOST"))
    status = Param(description="the status of the storage pool")

    def handle(self, ctx: Context) -> ListResult:
        offset, limit = self.window(ctx.session)
        rows, total = pools.list_pools(
            ctx.session, pool_id=self.id.id if self.id else None, name=self.name,
            zone_id=self.zoneid.id if self.zoneid else None, pod_id=self.podid.id if self.podid else None,
            cluster_id=self.clusterid.id if self.clusterid else None, host_id=self.hostid.id if self.hostid else None,
            address=self.ipaddress, path=self.path, scope=self.scope, status=self.status, keyword=self.keyword,
            offset=offset, limit=limit)
        views = pool_views(ctx.session, rows)
        for pool, view in zip(rows, views):  # current figures where this node sees the files; a list writes nothing
            measured = pools.measure_pool(pool)
            if measured is not None:
                view.disksizetotal = view.capacitybytes = measured[0]
                view.disksizeused = measured[1]
        return ListResult(views, total)


# --- secondary storage ---------------------------------------------------------------------------------------


@command("addImageStore", response=ImageStoreResponse, roles=ADMINS)
class AddImageStore(Command):
    """Adds backup image store."""

    provider = Param(required=True, description="the image store provider name")
    name = Param(description="the name for the image store")
    url = Param(length=2048, description="the URL for the image store")
    zoneid = Param("uuid", entity=Zone, description="the Zone ID for the image store")
    details = Param("map", description="the details for the image store. Example: details[0].key=accesskey&"
                                       "details[0].value=s389ddssaa&details[1].key=secretkey&"
                                       "details[1].value=8dshfsss")

    def handle(self, ctx: Context) -> ImageStoreResponse:
        store = images.add_image_store(ctx.session, ctx.caller, provider=self.provider, url=self.url, name=self.name,
                                       zone=self.zoneid, details=map_as_dict(self.maps.get("details")))
        return store_views(ctx.session, [store])[0]


@command("addSecondaryStorage", response=ImageStoreResponse, roles=ADMINS)
class AddSecondaryStorage(Command):
    """Adds secondary storage."""

    url = Param(required=True, length=2048, description="the URL for the secondary storage")
    zoneid = Param("uuid", entity=Zone, description="the Zone ID for the secondary storage")
    details = Param("map", description="Used to specify the parameters values for the variables in userdata.")

    def handle(self, ctx: Context) -> ImageStoreResponse:
        store = images.add_image_store(ctx.session, ctx.caller, provider=images.provider_for_url(self.url),
                                       url=self.url, name=None, zone=self.zoneid,
                                       details=map_as_dict(self.maps.get("details")))
        return store_views(ctx.session, [store])[0]


@command("deleteImageStore", roles=ADMINS)
class DeleteImageStore(Command):
    """Deletes an image store or Secondary Storage."""

    id = Param("uuid", entity=ImageStore, required=True, description="The image store ID or Secondary Storage ID.")

    def handle(self, ctx: Context) -> Success:
        images.delete_image_store(ctx.session, ctx.caller, self.id)
        return Success()


@command("listImageStores", response=ImageStoreResponse, list_key="imagestore", roles=ADMINS)
class ListImageStores(ListCommand):
    """Lists image stores."""

    id = Param("uuid", entity=ImageStore, description="the ID of the storage pool")
    name = Param(description="the name of the image store")
    zoneid = Param("uuid", entity=Zone, description="the Zone ID for the image store")
    protocol = Param(description="the image store protocol")
    provider = Param(description="the image store provider")
    readonly = Param("boolean", description="read-only status of the image store")

    def handle(self, ctx: Context) -> ListResult:
        offset, limit = self.window(ctx.session)
        rows, total = images.list_image_stores(
            ctx.session, store_id=self.id.id if self.id else None, name=self.name,
            zone_id=self.zoneid.id if self.zoneid else None, protocol=self.protocol, provider=self.provider,
            readonly=self.readonly if "readonly" in self.raw else None, keyword=self.keyword, offset=offset,
            limit=limit)
        views = store_views(ctx.session, rows)
        for store, view in zip(rows, views):  # measured here, not saved: a list never takes the write lock
            measured = images.measure(store)
            if measured is not None:
                view.disksizetotal, view.disksizeused = measured
        return ListResult(views, total)


# --- templates and ISOs --------------------------------------------------------------------------------------

def _zones(cmd) -> tuple[list, bool]:
    """zoneid / zoneids; ``-1`` means every zone (a cross-zone template)."""
    raw_zone = (cmd.raw.get("zoneid") or "").strip()
    raw_zones = [z.strip() for z in (cmd.raw.get("zoneids") or "").split(",") if z.strip()]
    if raw_zone == "-1" or "-1" in raw_zones:
        return [], True
    zones = [cmd.zoneid] if getattr(cmd, "zoneid", None) is not None else []
    zones += list(getattr(cmd, "zoneids", None) or [])
    return zones, False


def _register_view(ctx: Context, template: Template, refs) -> ListResult:
    rows = [(template, ref) for ref in refs]
    return ListResult(template_views(ctx.session, rows, admin=ctx.caller.is_admin), len(rows))


@command("registerTemplate", response=TemplateResponse, list_key="template",
         java_class="org.apache.cloudstack.api.command.user.template.RegisterTemplateCmd")
class RegisterTemplate(Command):
    """Registers an existing template into the CloudStack cloud."""

    name = Param(required=True, description="the name of the template")
    displaytext = Param(required=True, length=4096, description="The display text of the template, defaults to "
                                                                "name if not specified.")
    url = Param(required=True, length=2048, description="the URL of where the template is hosted.")
    format = Param(required=True, description="the format for the template. Possible values include QCOW2, RAW, VHD "
                                              "and OVA.")
    hypervisor = Param(required=True, description="the target hypervisor for the template")
    zoneid = Param("uuid", entity=Zone, description="the ID of the zone the template is to be hosted on")
    zoneids = Param("list", item_type="uuid", entity=Zone, description="A list of zone ids where the template will "
                                                                       "be hosted. Use this parameter if the template "
                                                                       "needs to be registered to multiple zones in "
                                                                       "one go. Use zoneid if the template needs to "
                                                                       "be registered to only one zone.Passing only "
                                                                       "-1 to this will cause the template to be "
                                                                       "registered as a cross zone template and will "
                                                                       "be copied to all zones. ")
    ostypeid = Param("uuid", entity=GuestOs, description="the ID of the OS Type that best represents the OS of this "
                                                         "template. Not applicable with VMware, as we honour what is "
                                                         "defined in the template")
    ispublic = Param("boolean", default=False, description="true if the template is available to all accounts; "
                                                           "default is true")
    isfeatured = Param("boolean", default=False, description="true if this template is a featured template, false "
                                                             "otherwise")
    isextractable = Param("boolean", default=False, description="true if the template or its derivatives are "
                                                                "extractable; default is false")
    passwordenabled = Param("boolean", default=False, description="true if the template supports the password reset "
                                                                  "feature; default is false")
    sshkeyenabled = Param("boolean", default=False, description="true if the template supports the sshkey upload "
                                                                "feature; default is false")
    isdynamicallyscalable = Param("boolean", default=False, description="true if template contains XS/VMWare tools "
                                                                        "inorder to support dynamic scaling of VM "
                                                                        "cpu/memory")
    requireshvm = Param("boolean", default=True, description="true if this template requires HVM")
    bits = Param("integer", description="32 or 64 bits support. 64 by default")
    checksum = Param(description="the checksum value of this template. The parameter containing the checksum will be "
                                 "considered a MD5sum if it is not prefixed\n and just a plain ascii/utf8 "
                                 "representation of a hexadecimal string. If it is required to\n use another "
                                 "algorithm the hexadecimal string is to be prefixed with a string of the form,\n "
                                 "\"{<algorithm>}\", not including the double quotes. In this <algorithm> is the "
                                 "exact string\n representing the java supported algorithm, i.e. MD5 or SHA-256. "
                                 "Note that java does not\n contain an algorithm called SHA256 or one called sha-256, "
                                 "only SHA-256.")
    templatetype = Param(description="the type of the template. Valid options are: USER/VNF (for all users) and "
                                     "SYSTEM/ROUTING/BUILTIN (for admins only).")
    details = Param("map", description="Template details in key/value pairs using format details[i].keyname="
                                       "keyvalue. Example: details[0].hypervisortoolsversion=xenserver61")
    account = Param(description="an optional accountName. Must be used with domainId.")
    domainid = Param("uuid", entity=Domain, description="an optional domainId. If the account parameter is used, "
                                                        "domainId must also be used.")

    def validate(self) -> None:
        if self.bits is not None and self.bits not in (32, 64):
            raise InvalidParameter("bits must be 32 or 64")

    def handle(self, ctx: Context) -> ListResult:
        fmt = tmpl.pick(self.format, tmpl.FORMATS, "Image format")
        if fmt == "ISO":
            raise InvalidParameter("ISO is not a template format: use registerIso")
        hypervisor = tmpl.pick(self.hypervisor, tmpl.HYPERVISORS, "Hypervisor")
        zones, all_zones = _zones(self)
        reg = tmpl.Registration(
            name=self.name, display_text=self.displaytext, url=self.url, format=fmt, hypervisor=hypervisor,
            zones=zones, all_zones=all_zones, guest_os=self.ostypeid, is_public=self.ispublic,
            featured=self.isfeatured, extractable=self.isextractable, password_enabled=self.passwordenabled,
            sshkey_enabled=self.sshkeyenabled, dynamically_scalable=self.isdynamicallyscalable,
            requires_hvm=self.requireshvm, bits=self.bits or 64, checksum=self.checksum,
            details=map_as_dict(self.maps.get("details")) or None, template_type=self.templatetype,
            account_name=self.account, domain=self.domainid)
        template, refs = tmpl.register(ctx.session, ctx.caller, reg)
        return _register_view(ctx, template, refs)


@command("registerIso", response=IsoResponse, list_key="iso",
         java_class="org.apache.cloudstack.api.command.user.iso.RegisterIsoCmd")
class RegisterIso(Command):
    """Registers an existing ISO into the CloudStack Cloud."""

    name = Param(required=True, description="the name of the ISO")
    displaytext = Param(required=True, length=4096, description="the display text of the ISO, defaults to the "
                                                                "'name'")
    url = Param(required=True, length=2048, description="the URL to where the ISO is currently being hosted")
    zoneid = Param("uuid", entity=Zone, required=True, description="the ID of the zone you wish to register the ISO "
                                                                   "to.")
    bootable = Param("boolean", default=True, description="true if this ISO is bootable. If not passed explicitly its "
                                                          "assumed to be true")
    ostypeid = Param("uuid", entity=GuestOs, description="the ID of the OS type that best represents the OS of this "
                                                         "ISO. If the ISO is bootable this parameter needs to be "
                                                         "passed")
    ispublic = Param("boolean", default=False, description="true if you want to register the ISO to be publicly "
                                                           "available to all users, false otherwise.")
    isfeatured = Param("boolean", default=False, description="true if you want this ISO to be featured")
    isextractable = Param("boolean", default=False, description="true if the ISO or its derivatives are "
                                                                "extractable; default is false")
    passwordenabled = Param("boolean", default=False, description="true if password reset feature is supported; "
                                                                  "default is false")
    isdynamicallyscalable = Param("boolean", default=False, description="true if ISO contains XS/VMWare tools inorder "
                                                                        "to support dynamic scaling of VM cpu/memory")
    checksum = Param(description="the checksum value of this ISO. The parameter containing the checksum will be "
                                 "considered a MD5sum if it is not prefixed\n and just a plain ascii/utf8 "
                                 "representation of a hexadecimal string. If it is required to\n use another "
                                 "algorithm the hexadecimal string is to be prefixed with a string of the form,\n "
                                 "\"{<algorithm>}\", not including the double quotes.")
    account = Param(description="an optional account name. Must be used with domainId.")
    domainid = Param("uuid", entity=Domain, description="an optional domainId. If the account parameter is used, "
                                                        "domainId must also be used.")

    def handle(self, ctx: Context) -> ListResult:
        zones, all_zones = _zones(self)
        reg = tmpl.Registration(
            name=self.name, display_text=self.displaytext, url=self.url, format="ISO", hypervisor=None,
            zones=zones, all_zones=all_zones, guest_os=self.ostypeid, is_public=self.ispublic,
            featured=self.isfeatured, extractable=self.isextractable, password_enabled=self.passwordenabled,
            dynamically_scalable=self.isdynamicallyscalable, bootable=self.bootable, checksum=self.checksum,
            account_name=self.account, domain=self.domainid)
        template, refs = tmpl.register(ctx.session, ctx.caller, reg)
        return _register_view(ctx, template, refs)


class _UpdateTemplateBase(Command):
    iso = False
    id = Param("uuid", entity=Template, required=True, description="the ID of the image file")
    name = Param(description="the name of the image file")
    displaytext = Param(length=4096, description="the display text of the image")
    ostypeid = Param("uuid", entity=GuestOs, description="the ID of the OS type that best represents the OS of this "
                                                         "image.")
    format = Param(description="the format for the image")
    passwordenabled = Param("boolean", description="true if the image supports the password reset feature; default "
                                                   "is false")
    sshkeyenabled = Param("boolean", description="true if the template supports the sshkey upload feature; default "
                                                 "is false")
    bootable = Param("boolean", description="true if image is bootable, false otherwise; available only for updateIso "
                                            "API")
    requireshvm = Param("boolean", description="true if the template requires HVM, false otherwise; available only "
                                               "for updateTemplate API")
    isdynamicallyscalable = Param("boolean", description="true if template/ISO contains XS/VMWare tools inorder to "
                                                         "support dynamic scaling of VM cpu/memory")
    sortkey = Param("integer", description="sort key of the template, integer")
    details = Param("map", description="Details in key/value pairs using format details[i].keyname=keyvalue.")
    cleanupdetails = Param("boolean", description="optional boolean field, which indicates if details should be "
                                                  "cleaned up or not (if set to true, details removed for this "
                                                  "resource, details field ignored; if false or not set, no action)")

    def handle(self, ctx: Context):
        def given(name):
            return getattr(self, name) if name in self.raw else None

        template = tmpl.update(
            ctx.session, ctx.caller, self.id, iso=self.iso, name=self.name, display_text=self.displaytext,
            guest_os=self.ostypeid, fmt=self.format, password_enabled=given("passwordenabled"),
            sshkey_enabled=given("sshkeyenabled"), bootable=given("bootable"), requires_hvm=given("requireshvm"),
            dynamically_scalable=given("isdynamicallyscalable"), sort_key=self.sortkey,
            details=map_as_dict(self.maps.get("details")) or None, cleanup_details=given("cleanupdetails"),
            template_type=getattr(self, "templatetype", None))
        return template_views(ctx.session, [(template, None)], admin=ctx.caller.is_admin)[0]


@command("updateTemplate", response=TemplateResponse)
class UpdateTemplate(_UpdateTemplateBase):
    """Updates attributes of a template."""

    templatetype = Param(description="the type of the template. Valid options are: USER/VNF (for all users) and "
                                     "SYSTEM/ROUTING/BUILTIN (for admins only).")


@command("updateIso", response=IsoResponse)
class UpdateIso(_UpdateTemplateBase):
    """Updates an ISO file."""

    iso = True


class _DeleteBase(Command):
    iso = False
    id = Param("uuid", entity=Template, required=True, description="the ID of the template or ISO")
    zoneid = Param("uuid", entity=Zone, description="the ID of zone of the template or ISO")

    def prepare(self, ctx: Context) -> Prepared:
        tmpl.check_deletable(ctx.session, ctx.caller, self.id, iso=self.iso, zone=self.zoneid,
                             forced=bool(getattr(self, "forced", False)))
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> Success:
        if self.id.removed is None:
            tmpl.delete_template(ctx.session, ctx.caller, self.id, iso=self.iso, zone=self.zoneid,
                                 forced=bool(getattr(self, "forced", False)))
        return Success()


@command("deleteTemplate", is_async=True, event="TEMPLATE.DELETE", instance_type="Template",
         java_class="org.apache.cloudstack.api.command.user.template.DeleteTemplateCmd")
class DeleteTemplate(_DeleteBase):
    """Deletes a template from the system. All virtual machines using the deleted template will not be affected."""

    forced = Param("boolean", default=False, description="Force delete a template.")


@command("deleteIso", is_async=True, event="ISO.DELETE", instance_type="Iso",
         java_class="org.apache.cloudstack.api.command.user.iso.DeleteIsoCmd")
class DeleteIso(_DeleteBase):
    """Deletes an ISO file."""

    iso = True


class _PermissionsBase(Command):
    iso = False
    id = Param("uuid", entity=Template, required=True, description="the template ID")
    ispublic = Param("boolean", description="true for public template/iso, false for private templates/isos")
    isfeatured = Param("boolean", description="true for featured template/iso, false otherwise")
    isextractable = Param("boolean", description="true if the template/iso is extractable, false other wise. Can be "
                                                 "set only by root admin")
    accounts = Param("list", description="a comma delimited list of accounts within caller's domain. If specified, "
                                         "\"op\" parameter has to be passed in.")
    op = Param(description="permission operator (add, remove, reset)")
    projectids = Param("list", description="a comma delimited list of projects. If specified, \"op\" parameter has "
                                           "to be passed in.")

    def handle(self, ctx: Context) -> Success:
        def given(name):
            return getattr(self, name) if name in self.raw else None

        tmpl.update_permissions(ctx.session, ctx.caller, self.id, iso=self.iso, is_public=given("ispublic"),
                                featured=given("isfeatured"), extractable=given("isextractable"),
                                accounts=self.accounts, op=self.op, project_ids=self.projectids)
        return Success()


@command("updateTemplatePermissions")
class UpdateTemplatePermissions(_PermissionsBase):
    """Updates a template visibility permissions. A public template is visible to all accounts within the same
    domain. A private template is visible only to the owner of the template. A privileged template is a private
    template with account permissions added. Only accounts specified under the template permissions are visible to
    them."""


@command("updateIsoPermissions")
class UpdateIsoPermissions(_PermissionsBase):
    """Updates ISO permissions"""

    iso = True


@command("listTemplatePermissions", response=TemplatePermissionResponse, list_key="templatepermission")
class ListTemplatePermissions(Command):
    """List template visibility and all accounts that have permissions to view this template."""

    iso = False
    response_cls = TemplatePermissionResponse
    id = Param("uuid", entity=Template, required=True, description="the template ID")

    def handle(self, ctx: Context) -> ListResult:
        template, names = tmpl.permissions(ctx.session, ctx.caller, self.id, iso=self.iso)
        domain = ctx.session.get(Domain, template.domain_id)
        view = self.response_cls(id=template.uuid, ispublic=template.is_public, domainid=domain.uuid, account=names)
        return ListResult([view], 1)


@command("listIsoPermissions", response=IsoPermissionResponse, list_key="isopermission")
class ListIsoPermissions(ListTemplatePermissions):
    """List ISO visibility and all accounts that have permissions to view this ISO."""

    iso = True
    response_cls = IsoPermissionResponse


class _ListTemplatesBase(ListDomainResourcesCommand):
    iso = False
    id = Param("uuid", entity=Template, description="the template ID")
    name = Param(description="the template name")
    zoneid = Param("uuid", entity=Zone, description="list templates by zoneId")
    hypervisor = Param(description="the hypervisor for which to restrict the search")
    isready = Param("boolean", description="list templates that are ready to be deployed")
    showremoved = Param("boolean", default=False, description="show removed templates as well")
    showunique = Param("boolean", default=False, description="If set to true, list only unique templates across "
                                                             "zones")
    oscategoryid = Param("uuid", entity=GuestOsCategory, description="the ID of the OS category for the template")
    imagestoreid = Param("uuid", entity=ImageStore, description="ID of the image or image cache store")
    tags = Param("map", description="List resources by tags (key/value pairs)")

    def filter_name(self) -> str:
        raise NotImplementedError

    def handle(self, ctx: Context) -> ListResult:
        name = self.filter_name()
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall, by_id=self.id is not None)
        f = tmpl.ListFilter(
            filter=name, iso=self.iso, scope=scope,
            account_specific=ctx.caller.is_admin and self.account is not None and self.domainid is not None,
            explicit_owner=self.account is not None or self.domainid is not None,
            template_id=self.id.id if self.id else None, template_ids=[t.id for t in getattr(self, "ids", None) or []],
            name=self.name, keyword=self.keyword, zone_id=self.zoneid.id if self.zoneid else None,
            hypervisor=self.hypervisor, is_ready=self.isready if "isready" in self.raw else None,
            is_public=getattr(self, "ispublic", None) if "ispublic" in self.raw else None,
            bootable=getattr(self, "bootable", None) if "bootable" in self.raw else None,
            template_type=getattr(self, "templatetype", None),
            os_category_id=self.oscategoryid.id if self.oscategoryid else None,
            store_id=self.imagestoreid.id if self.imagestoreid else None,
            show_removed=self.showremoved and ctx.caller.is_admin, show_unique=self.showunique,
            tags=self.map_list("tags"))
        offset, limit = self.window(ctx.session)
        rows, total = tmpl.list_templates(ctx.session, ctx.caller, f, offset, limit)
        return ListResult(template_views(ctx.session, rows, admin=ctx.caller.is_admin), total)


@command("listTemplates", response=TemplateResponse, list_key="template")
class ListTemplates(_ListTemplatesBase):
    """List all public, private, and privileged templates."""

    templatefilter = Param(required=True, choices=tmpl.FILTERS,
                           description="possible values are \"featured\", \"self\", \"selfexecutable\",\"shared\", "
                                       "\"sharedexecutable\",\"executable\", and \"community\". * featured : templates "
                                       "that have been marked as featured and public. * self : templates that have "
                                       "been registered or created by the calling user. * selfexecutable : same as "
                                       "self, but only returns templates that can be used to deploy a new VM. * "
                                       "sharedexecutable : templates ready to be deployed that have been granted to "
                                       "the calling user by another user. * executable : templates that are owned by "
                                       "the calling user, or public templates, that can be used to deploy a VM. * "
                                       "community : templates that have been marked as public but not featured. * all "
                                       ": all templates (only usable by admins).")
    ids = Param("list", item_type="uuid", entity=Template, description="the IDs of the templates, mutually exclusive "
                                                                       "with id")
    templatetype = Param(description="the type of the template")

    def filter_name(self) -> str:
        return self.templatefilter


@command("listIsos", response=IsoResponse, list_key="iso")
class ListIsos(_ListTemplatesBase):
    """Lists all available ISO files."""

    iso = True
    isofilter = Param(choices=tmpl.FILTERS, default="selfexecutable",
                      description="possible values are \"featured\", \"self\", \"selfexecutable\",\"sharedexecutable\","
                                  "\"executable\", and \"community\".")
    ispublic = Param("boolean", description="true if the ISO is publicly available to all users, false otherwise.")
    bootable = Param("boolean", description="true if the ISO is bootable, false otherwise")

    def filter_name(self) -> str:
        return self.isofilter or "selfexecutable"


# --- guest OS --------------------------------------------------------------------------------------------------


@command("listOsTypes", response=OsTypeResponse, list_key="ostype")
class ListOsTypes(ListCommand):
    """Lists all supported OS types for this cloud."""

    id = Param("uuid", entity=GuestOs, description="list by Os type Id")
    ids = Param("list", item_type="uuid", entity=GuestOs, description="list by Os type Ids")
    oscategoryid = Param("uuid", entity=GuestOsCategory, description="list by Os Category id")
    description = Param(description="list os by description")
    fordisplay = Param("boolean", description="list resources by display flag; only ROOT admin is eligible to pass "
                                              "this parameter")

    def handle(self, ctx: Context) -> ListResult:
        query = select(GuestOs).where(GuestOs.removed.is_(None))
        if self.id is not None:
            query = query.where(GuestOs.id == self.id.id)
        if self.ids:
            query = query.where(GuestOs.id.in_([o.id for o in self.ids]))
        if self.oscategoryid is not None:
            query = query.where(GuestOs.category_id == self.oscategoryid.id)
        if self.description:
            query = query.where(GuestOs.display_name.like(f"%{self.description}%"))
        if self.keyword:
            query = query.where(or_(GuestOs.display_name.like(f"%{self.keyword}%"),
                                    GuestOs.name.like(f"%{self.keyword}%")))
        if "fordisplay" in self.raw:
            query = query.where(GuestOs.display.is_(self.fordisplay))
        offset, limit = self.window(ctx.session)
        rows, total = page(ctx.session, query.order_by(GuestOs.id), offset, limit)
        return ListResult(os_type_views(ctx.session, rows), total)


@command("listOsCategories", response=OsCategoryResponse, list_key="oscategory")
class ListOsCategories(ListCommand):
    """Lists all supported OS categories for this cloud."""

    id = Param("uuid", entity=GuestOsCategory, description="list Os category by id")
    name = Param(description="list os category by name")
    isfeatured = Param("boolean", description="List available OS categories by featured or not")

    def handle(self, ctx: Context) -> ListResult:
        query = select(GuestOsCategory)
        if self.id is not None:
            query = query.where(GuestOsCategory.id == self.id.id)
        if self.name:
            query = query.where(GuestOsCategory.name == self.name)
        if self.keyword:
            query = query.where(GuestOsCategory.name.like(f"%{self.keyword}%"))
        if "isfeatured" in self.raw:
            query = query.where(GuestOsCategory.featured.is_(self.isfeatured))
        offset, limit = self.window(ctx.session)
        rows, total = page(ctx.session, query.order_by(GuestOsCategory.id), offset, limit)
        return ListResult(os_category_views(rows), total)
