"""Dynamic role commands: createRole, updateRole, deleteRole, createRolePermission, listRolePermissions,
updateRolePermission, deleteRolePermission (root admins, as in CloudStack)."""

from __future__ import annotations

from management.api.native.params import Param
from management.api.native.registry import ADMINS, Command, ListResult, Success, command
from management.api.native.responses import ResponseObject
from management.context import Context
from management.iam import roles
from management.iam.models import Role, RolePermission
from management.iam.responses import RoleResponse, role_view


class RolePermissionResponse(ResponseObject):
    object_name = "rolepermission"
    id: str
    roleid: str
    rolename: str
    rule: str
    permission: str
    description: str | None = None


def permission_view(row: RolePermission, role: Role) -> RolePermissionResponse:
    return RolePermissionResponse(id=row.uuid, roleid=role.uuid, rolename=role.name, rule=row.rule,
                                  permission=row.permission.lower(), description=row.description)


@command("createRole", response=RoleResponse, roles=ADMINS)
class CreateRole(Command):
    """Creates a role"""

    name = Param(required=True, length=255, description="Creates a role with this unique name")
    type = Param(description="The type of the role, valid options are: Admin, ResourceAdmin, DomainAdmin, User")
    roleid = Param("uuid", entity=Role, description="ID of the role to be cloned from. Either roleid or type must "
                                                    "be passed in")
    description = Param(length=4096, description="The description of the role")
    ispublic = Param("boolean", description="Indicates whether the role will be visible to all users (public) or "
                                            "only to root admins (private). Default is true.")

    def handle(self, ctx: Context) -> RoleResponse:
        return role_view(roles.create_role(ctx.session, ctx.caller, name=self.name, role_type=self.type,
                                           source=self.roleid, description=self.description,
                                           is_public=self.ispublic))


@command("updateRole", response=RoleResponse, roles=ADMINS)
class UpdateRole(Command):
    """Updates a role"""

    id = Param("uuid", entity=Role, required=True, description="ID of the role")
    name = Param(length=255, description="creates a role with this unique name")
    type = Param(description="The type of the role, valid options are: Admin, ResourceAdmin, DomainAdmin, User")
    description = Param(length=4096, description="The description of the role")
    ispublic = Param("boolean", description="Indicates whether the role will be visible to all users (public) or "
                                            "only to root admins (private).")

    def handle(self, ctx: Context) -> RoleResponse:
        return role_view(roles.update_role(ctx.session, ctx.caller, self.id, name=self.name, role_type=self.type,
                                           description=self.description, is_public=self.ispublic))


@command("deleteRole", roles=ADMINS)
class DeleteRole(Command):
    """Deletes a role"""

    id = Param("uuid", entity=Role, required=True, description="ID of the role")

    def handle(self, ctx: Context) -> Success:
        roles.delete_role(ctx.session, ctx.caller, self.id)
        return Success()


@command("createRolePermission", response=RolePermissionResponse, roles=ADMINS)
class CreateRolePermission(Command):
    """Adds an API permission to a role"""

    roleid = Param("uuid", entity=Role, required=True, description="ID of the role")
    rule = Param(required=True, length=255, description="The API name or wildcard rule such as list*")
    permission = Param(required=True, description="The rule permission, allow or deny. Default: deny.")
    description = Param(length=4096, description="The description of the role permission")

    def handle(self, ctx: Context) -> RolePermissionResponse:
        row = roles.create_permission(ctx.session, ctx.caller, self.roleid, rule=self.rule,
                                      permission=self.permission, description=self.description)
        return permission_view(row, self.roleid)


@command("listRolePermissions", response=RolePermissionResponse, list_key="rolepermission", roles=ADMINS)
class ListRolePermissions(Command):
    """Lists role permissions"""

    roleid = Param("uuid", entity=Role, description="ID of the role")

    def handle(self, ctx: Context) -> ListResult:
        rows = roles.list_permissions(ctx.session, self.roleid)
        return ListResult([permission_view(p, r) for p, r in rows], len(rows))


@command("updateRolePermission", roles=ADMINS)
class UpdateRolePermission(Command):
    """Updates a role permission order"""

    roleid = Param("uuid", entity=Role, required=True, description="ID of the role")
    ruleorder = Param("list", item_type="uuid", entity=RolePermission,
                      description="The parent role permission uuid, use 0 to move this rule at the top of the list")
    ruleid = Param("uuid", entity=RolePermission, description="Role permission rule id")
    permission = Param(description="Rule permission, can be: allow or deny")

    def handle(self, ctx: Context) -> Success:
        roles.update_permission(ctx.session, ctx.caller, self.roleid, order=self.ruleorder, rule=self.ruleid,
                                permission=self.permission)
        return Success()


@command("deleteRolePermission", roles=ADMINS)
class DeleteRolePermission(Command):
    """Deletes a role permission"""

    id = Param("uuid", entity=RolePermission, required=True, description="ID of the role permission")

    def handle(self, ctx: Context) -> Success:
        roles.delete_permission(ctx.session, ctx.caller, self.id)
        return Success()
