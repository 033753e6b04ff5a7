"""Cluster and host commands."""

from __future__ import annotations

from management.api.native.params import Param
from management.api.native.registry import ADMINS, Command, ListCommand, ListResult, Prepared, Success, command
from management.context import Context
from management.infra import clusters, hosts
from management.infra.models import Cluster, Host, Pod, Zone
from management.infra.responses import ClusterResponse, HostResponse, cluster_views, host_views
from management.pagination import page

ALLOCATION = ("Enabled", "Disabled")


@command("addCluster", response=ClusterResponse, roles=ADMINS)
class AddCluster(Command):
    """Adds a new cluster"""

    zoneid = Param("uuid", entity=Zone, required=True, description="the Zone ID for the cluster")
    podid = Param("uuid", entity=Pod, required=True, description="the Pod ID for the host")
    clustername = Param(required=True, description="the cluster name")
    clustertype = Param(required=True, choices=clusters.CLUSTER_TYPES, description="type of the cluster: "
                                                                                   "CloudManaged, ExternalManaged")
    hypervisor = Param(required=True, description="hypervisor type of the cluster: XenServer,KVM,VMware,Hyperv,"
                                                  "BareMetal,Simulator,Ovm3")
    allocationstate = Param(choices=ALLOCATION, description="Allocation state of this cluster for allocation of new "
                                                            "resources")
    url = Param(description="the URL")
    username = Param(description="the username for the cluster")
    password = Param(description="the password for the host")

    def handle(self, ctx: Context) -> ListResult:
        cluster = clusters.add_cluster(ctx.session, ctx.caller, zone=self.zoneid, pod=self.podid, name=self.clustername,
                                       cluster_type=self.clustertype, hypervisor=self.hypervisor,
                                       allocation_state=self.allocationstate)
        return ListResult(cluster_views(ctx.session, [cluster]), 1)  # a list, as CloudStack answers


@command("updateCluster", response=ClusterResponse, roles=ADMINS)
class UpdateCluster(Command):
    """Updates an existing cluster"""

    id = Param("uuid", entity=Cluster, required=True, description="the ID of the Cluster")
    clustername = Param(description="the cluster name")
    allocationstate = Param(choices=ALLOCATION, description="Allocation state of this cluster for allocation of new "
                                                            "resources")
    managedstate = Param(choices=clusters.MANAGED_STATES, description="whether this cluster is managed by "
                                                                      "cloudstack")

    def handle(self, ctx: Context) -> ClusterResponse:
        cluster = clusters.update_cluster(ctx.session, ctx.caller, self.id, name=self.clustername,
                                          allocation_state=self.allocationstate, managed_state=self.managedstate)
        return cluster_views(ctx.session, [cluster])[0]


@command("deleteCluster", roles=ADMINS)
class DeleteCluster(Command):
    """Deletes a cluster."""

    id = Param("uuid", entity=Cluster, required=True, description="the cluster ID")

    def handle(self, ctx: Context) -> Success:
        clusters.delete_cluster(ctx.session, ctx.caller, self.id)
        return Success()


@command("listClusters", response=ClusterResponse, list_key="cluster", roles=ADMINS)
class ListClusters(ListCommand):
    """Lists clusters."""

    id = Param("uuid", entity=Cluster, description="lists clusters by the cluster ID")
    name = Param(description="lists clusters by the cluster name")
    zoneid = Param("uuid", entity=Zone, description="lists clusters by Zone ID")
    podid = Param("uuid", entity=Pod, description="lists clusters by Pod ID")
    hypervisor = Param(description="lists clusters by hypervisor type")
    clustertype = Param(description="lists clusters by cluster type")
    allocationstate = Param(description="lists clusters by allocation state")
    managedstate = Param(description="whether this cluster is managed by cloudstack")
    showcapacities = Param("boolean", default=False, description="flag to display the capacity of the clusters")

    def handle(self, ctx: Context) -> ListResult:
        query = clusters.cluster_query(cluster=self.id, name=self.name, zone=self.zoneid, pod=self.podid,
                                       hypervisor=self.hypervisor, cluster_type=self.clustertype,
                                       allocation_state=self.allocationstate, managed_state=self.managedstate,
                                       keyword=self.keyword)
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        return ListResult(cluster_views(ctx.session, rows, show_capacities=self.showcapacities), total)


# --- hosts ------------------------------------------------------------------------------------------

@command("addHost", response=HostResponse, roles=ADMINS)
class AddHost(Command):
    """Adds a new host."""

    zoneid = Param("uuid", entity=Zone, required=True, description="the Zone ID for the host")
    podid = Param("uuid", entity=Pod, required=True, description="the Pod ID for the host")
    url = Param(required=True, description="the host URL")
    hypervisor = Param(required=True, description="hypervisor type of the host")
    clusterid = Param("uuid", entity=Cluster, description="the cluster ID for the host")
    clustername = Param(description="the cluster name for the host")
    hosttags = Param(description="list of tags to be added to the host")
    allocationstate = Param(description="Allocation state of this Host for allocation of new resources")
    username = Param(description="the username for the host; required to be passed for hypervisors other than "
                                 "VMWare")
    password = Param(description="the password for the host; required to be passed for hypervisors other than "
                                 "VMWare")

    def handle(self, ctx: Context) -> ListResult:
        host = hosts.add_host(ctx.session, ctx.caller, zone=self.zoneid, pod=self.podid, url=self.url,
                              hypervisor=self.hypervisor, cluster=self.clusterid, cluster_name=self.clustername,
                              tags=self.hosttags, allocation_state=self.allocationstate)
        return ListResult(host_views(ctx.session, [host]), 1)  # a list, as CloudStack answers


@command("updateHost", response=HostResponse, roles=ADMINS)
class UpdateHost(Command):
    """Updates a host."""

    id = Param("uuid", entity=Host, required=True, description="the ID of the host to update")
    allocationstate = Param(description="Change resource state of host, valid values are [Enable, Disable]. "
                                        "Operation may failed if host in states not allowing Enable/Disable")
    hosttags = Param(description="list of tags to be added to the host")
    name = Param(description="the new name of the host")

    def handle(self, ctx: Context) -> HostResponse:
        host = hosts.update_host(ctx.session, ctx.caller, self.id, allocation_state=self.allocationstate,
                                 tags=self.hosttags, name=self.name)
        return host_views(ctx.session, [host])[0]


@command("deleteHost", roles=ADMINS)
class DeleteHost(Command):
    """Deletes a host."""

    id = Param("uuid", entity=Host, required=True, description="the host ID")
    forced = Param("boolean", default=False, description="Force delete the host. All HA enabled vms running on the "
                                                         "host will be put to HA; HA disabled ones will be stopped")
    forcedestroylocalstorage = Param("boolean", default=True, description="Force destroy local storage on this host. "
                                                                          "All VMs created on this local storage "
                                                                          "will be destroyed")

    def handle(self, ctx: Context) -> Success:
        hosts.delete_host(ctx.session, ctx.caller, self.id, forced=self.forced)
        return Success()


class _HostJob(Command):
    id = Param("uuid", entity=Host, required=True, description="the host ID")


@command("prepareHostForMaintenance", response=HostResponse, is_async=True, roles=ADMINS, event="MAINT.PREPARE",
         instance_type="Host", java_class="org.apache.cloudstack.api.command.admin.host.PrepareForMaintenanceCmd")
class PrepareHostForMaintenance(_HostJob):
    """Prepares a host for maintenance."""

    def prepare(self, ctx: Context) -> Prepared:
        hosts.check_can_prepare_maintenance(self.id)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> HostResponse:
        return host_views(ctx.session, [hosts.prepare_maintenance(ctx.session, self.id)])[0]


@command("cancelHostMaintenance", response=HostResponse, is_async=True, roles=ADMINS, event="MAINT.CANCEL",
         instance_type="Host", java_class="org.apache.cloudstack.api.command.admin.host.CancelMaintenanceCmd")
class CancelHostMaintenance(_HostJob):
    """Cancels host maintenance."""

    def prepare(self, ctx: Context) -> Prepared:
        hosts.check_can_cancel_maintenance(self.id)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> HostResponse:
        return host_views(ctx.session, [hosts.cancel_maintenance(ctx.session, self.id)])[0]


@command("reconnectHost", response=HostResponse, is_async=True, roles=ADMINS, event="HOST.RECONNECT",
         instance_type="Host", java_class="org.apache.cloudstack.api.command.admin.host.ReconnectHostCmd")
class ReconnectHost(_HostJob):
    """Reconnects a host."""

    def prepare(self, ctx: Context) -> Prepared:
        hosts.check_alive(self.id)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> HostResponse:
        return host_views(ctx.session, [hosts.reconnect(ctx.session, self.id)])[0]


@command("listHosts", response=HostResponse, list_key="host", roles=ADMINS)
class ListHosts(ListCommand):
    """Lists hosts."""

    id = Param("uuid", entity=Host, description="the id of the host")
    name = Param(description="the name of the host")
    zoneid = Param("uuid", entity=Zone, description="the Zone ID for the host")
    podid = Param("uuid", entity=Pod, description="the Pod ID for the host")
    clusterid = Param("uuid", entity=Cluster, description="lists hosts existing in particular cluster")
    type = Param(description="the host type")
    state = Param(description="the state of the host")
    resourcestate = Param(description="list hosts by resource state. Resource state represents current state "
                                      "determined by admin of host, value can be one of [Enabled, Disabled, "
                                      "Unmanaged, PrepareForMaintenance, ErrorInMaintenance, Maintenance, Error]")
    hypervisor = Param(description="hypervisor type of host: XenServer,KVM,VMware,Hyperv,BareMetal,Simulator")

    def handle(self, ctx: Context) -> ListResult:
        query = hosts.host_query(host=self.id, name=self.name, zone=self.zoneid, pod=self.podid,
                                 cluster=self.clusterid, type_=self.type, state=self.state,
                                 resource_state=self.resourcestate, hypervisor=self.hypervisor, keyword=self.keyword)
        rows, total = page(ctx.session, query, *self.window(ctx.session))
        return ListResult(host_views(ctx.session, rows), total)
