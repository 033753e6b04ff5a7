"""Security group commands (CloudStack's SecurityGroupService): create, delete, list, authorize and revoke
ingress/egress rules (async, as in CloudStack)."""

from __future__ import annotations

from management.api.native.params import Param
from management.api.native.registry import Command, ListDomainResourcesCommand, ListResult, Prepared, Success, command
from management.compute.vm_models import VMInstance
from management.context import Context
from management.iam import access
from management.iam.models import Domain
from management.securitygroups import (
    hooks,  # noqa: F401  (VM, account and agent hooks)
    service,
)
from management.securitygroups.models import EGRESS, INGRESS, SecurityGroup, SecurityGroupRule
from management.securitygroups.responses import SecurityGroupResponse, SecurityGroupRuleResponse, group_views

JAVA = "org.apache.cloudstack.api.command.user.securitygroup."
SG = "SecurityGroup"


@command("createSecurityGroup", response=SecurityGroupResponse, java_class=JAVA + "CreateSecurityGroupCmd")
class CreateSecurityGroup(Command):
    """Creates a security group"""

    name = Param(required=True, description="name of the security group")
    description = Param(length=4096, description="the description of the security group")
    account = Param(description="an optional account for the security group. Must be used with domainId.")
    domainid = Param("uuid", entity=Domain, description="an optional domainId for the security group. If the account "
                                                        "parameter is used, domainId must also be used.")

    def handle(self, ctx: Context) -> SecurityGroupResponse:
        group = service.create(ctx.session, ctx.caller, name=self.name, description=self.description,
                               account_name=self.account, domain=self.domainid)
        return group_views(ctx.session, [group])[0]


@command("deleteSecurityGroup", java_class=JAVA + "DeleteSecurityGroupCmd")
class DeleteSecurityGroup(Command):
    """Deletes security group"""

    id = Param("uuid", entity=SecurityGroup, description="The ID of the security group. Mutually exclusive with "
                                                         "name parameter")
    name = Param(description="The ID of the security group. Mutually exclusive with id parameter")
    account = Param(description="the account of the security group. Must be specified with domain ID")
    domainid = Param("uuid", entity=Domain, description="the domain ID of account owning the security group")

    def handle(self, ctx: Context) -> Success:
        group = service.find(ctx.session, ctx.caller, group=self.id, name=self.name, account_name=self.account,
                             domain=self.domainid)
        service.delete_group(ctx.session, ctx.caller, group)
        return Success()


@command("listSecurityGroups", response=SecurityGroupResponse, list_key="securitygroup",
         java_class=JAVA + "ListSecurityGroupsCmd")
class ListSecurityGroups(ListDomainResourcesCommand):
    """Lists security groups"""

    id = Param("uuid", entity=SecurityGroup, description="list the security group by the id provided")
    securitygroupname = Param(description="lists security groups by name")
    virtualmachineid = Param("uuid", entity=VMInstance, description="lists security groups by virtual machine id")
    tags = Param("map", description="List resources by tags (key/value pairs)")

    def handle(self, ctx: Context) -> ListResult:
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall, by_id=self.id is not None)
        offset, limit = self.window(ctx.session)
        rows, total = service.list_groups(ctx.session, scope, group_id=self.id.id if self.id else None,
                                          name=self.securitygroupname, vm=self.virtualmachineid,
                                          keyword=self.keyword, offset=offset, limit=limit,
                                          tags=self.map_list("tags"))
        return ListResult(group_views(ctx.session, rows), total)


class _Authorize(Command):
    direction = INGRESS
    securitygroupid = Param("uuid", entity=SecurityGroup, description="The ID of the security group. Mutually "
                                                                      "exclusive with securityGroupName parameter")
    securitygroupname = Param(description="The name of the security group. Mutually exclusive with securityGroupId "
                                          "parameter")
    protocol = Param(description="TCP is default. UDP is the other supported protocol")
    startport = Param("integer", description="start port for this rule")
    endport = Param("integer", description="end port for this rule")
    icmptype = Param("integer", description="type of the ICMP message being sent")
    icmpcode = Param("integer", description="error code for this ICMP message")
    cidrlist = Param("list", description="the cidr list associated. Multiple entries must be separated by a single "
                                         "comma character (,).")
    usersecuritygrouplist = Param("map", description="user to security group mapping")
    account = Param(description="an optional account for the security group. Must be used with domainId.")
    domainid = Param("uuid", entity=Domain, description="an optional domainId for the security group. If the account "
                                                        "parameter is used, domainId must also be used.")

    def _group(self, ctx: Context) -> SecurityGroup:
        return service.find(ctx.session, ctx.caller, group=self.securitygroupid, name=self.securitygroupname,
                            account_name=self.account, domain=self.domainid, id_param="securitygroupid",
                            name_param="securitygroupname")

    def _specs(self, ctx: Context, group: SecurityGroup):
        return service.parse_rules(ctx.session, group, protocol=self.protocol, start_port=self.startport,
                                   end_port=self.endport, icmp_type=self.icmptype, icmp_code=self.icmpcode,
                                   cidrs=self.cidrlist, user_groups=self.map_list("usersecuritygrouplist"))

    def prepare(self, ctx: Context) -> Prepared:
        group = self._group(ctx)
        self._specs(ctx, group)  # bad input is refused in the request, before any job
        return Prepared(instance=group)

    def run(self, ctx: Context) -> SecurityGroupResponse:
        group = self._group(ctx)
        added = service.authorize(ctx.session, ctx.caller, group, self.direction, self._specs(ctx, group))
        return group_views(ctx.session, [group], only_rules=added)[0]


@command("authorizeSecurityGroupIngress", response=SecurityGroupRuleResponse, is_async=True, event="SG.AUTH.INGRESS",
         instance_type=SG, java_class=JAVA + "AuthorizeSecurityGroupIngressCmd")
class AuthorizeSecurityGroupIngress(_Authorize):
    """Authorizes a particular ingress rule for this security group"""

    direction = INGRESS


@command("authorizeSecurityGroupEgress", response=SecurityGroupRuleResponse, is_async=True, event="SG.AUTH.EGRESS",
         instance_type=SG, java_class=JAVA + "AuthorizeSecurityGroupEgressCmd")
class AuthorizeSecurityGroupEgress(_Authorize):
    """Authorizes a particular egress rule for this security group"""

    direction = EGRESS


class _Revoke(Command):
    direction = INGRESS
    id = Param("uuid", entity=SecurityGroupRule, required=True, description="The ID of the rule")

    def prepare(self, ctx: Context) -> Prepared:
        return Prepared(instance=service.check_revoke(ctx.session, ctx.caller, self.id, self.direction))

    def run(self, ctx: Context) -> Success:
        service.revoke(ctx.session, ctx.caller, self.id, self.direction)
        return Success()


@command("revokeSecurityGroupIngress", is_async=True, event="SG.REVOKE.INGRESS", instance_type=SG,
         java_class=JAVA + "RevokeSecurityGroupIngressCmd")
class RevokeSecurityGroupIngress(_Revoke):
    """Deletes a particular ingress rule from this security group"""

    direction = INGRESS


@command("revokeSecurityGroupEgress", is_async=True, event="SG.REVOKE.EGRESS", instance_type=SG,
         java_class=JAVA + "RevokeSecurityGroupEgressCmd")
class RevokeSecurityGroupEgress(_Revoke):
    """Deletes a particular egress rule from this security group"""

    direction = EGRESS
