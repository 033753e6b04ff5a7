"""Account, user, domain, role and API-key commands."""

from __future__ import annotations

from management.api.native.params import Param
from management.api.native.registry import (
    ADMINS,
    DOMAIN_ADMINS,
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
from management.iam import service as iam
from management.iam.models import Account, Domain, Role, User
from management.iam.responses import (
    AccountResponse,
    DomainResponse,
    RoleResponse,
    UserKeysResponse,
    UserResponse,
    account_views,
    domain_views,
    role_view,
    user_views,
)

ACCOUNT_SCOPE = (DOMAIN_ADMINS[0], DOMAIN_ADMINS[2])  # Admin, DomainAdmin


def _account(ctx: Context, cmd) -> Account:
    return iam.find_account(ctx.session, ctx.caller, account=getattr(cmd, "id", None),
                            name=getattr(cmd, "account", None), domain=getattr(cmd, "domainid", None))


@command("createAccount", response=AccountResponse, roles=ACCOUNT_SCOPE,
         java_class="org.apache.cloudstack.api.command.admin.account.CreateAccountCmd")
class CreateAccount(Command):
    """Creates an account"""

    username = Param(required=True, description="Unique username.")
    password = Param(required=True, description="Clear text password (Default hashed to SHA256SALT).")
    email = Param(required=True, description="email")
    firstname = Param(required=True, description="firstname")
    lastname = Param(required=True, description="lastname")
    account = Param(description="Name of the account to be created. The user will be added to this newly created "
                                "account. If no account is specified, the username will be used as the account name.")
    accounttype = Param("integer", description="Type of the account. Specify 0 for user, 1 for root admin, and 2 for "
                                               "domain admin")
    roleid = Param("uuid", entity=Role, description="Creates the account under the specified role.")
    domainid = Param("uuid", entity=Domain, description="Creates the user under the specified domain.")
    networkdomain = Param(description="Network domain for the account's networks")
    timezone = Param(description="Specifies a timezone for this command.")
    accountid = Param(description="Account UUID, required for adding account from external provisioning system")
    userid = Param(description="User UUID, required for adding account from external provisioning system")
    accountdetails = Param("map", description="details for the account used to store specific parameters")

    def handle(self, ctx: Context) -> AccountResponse:
        account = iam.create_account(
            ctx.session, ctx.caller, username=self.username, password=self.password, email=self.email,
            firstname=self.firstname, lastname=self.lastname, account_name=self.account, role=self.roleid,
            account_type=self.accounttype, domain=self.domainid, network_domain=self.networkdomain,
            timezone=self.timezone, account_uuid=self.accountid, user_uuid=self.userid)
        return account_views(ctx.session, [account])[0]


@command("updateAccount", response=AccountResponse, roles=ACCOUNT_SCOPE)
class UpdateAccount(Command):
    """Updates account information for the authenticated user"""

    id = Param("uuid", entity=Account, description="Account UUID")
    account = Param(description="Current account name")
    domainid = Param("uuid", entity=Domain, description="The UUID of the domain where the account exists")
    newname = Param(description="New name for the account")
    networkdomain = Param(description="Network domain for the account's networks; empty string will update "
                                      "domainName with NULL value")
    roleid = Param("uuid", entity=Role, description="The UUID of the dynamic role to set for the account")
    accountdetails = Param("map", description="Details for the account used to store specific parameters")

    def handle(self, ctx: Context) -> AccountResponse:
        account = iam.update_account(ctx.session, ctx.caller, _account(ctx, self), new_name=self.newname,
                                     network_domain=self.networkdomain, role=self.roleid)
        return account_views(ctx.session, [account])[0]


@command("enableAccount", response=AccountResponse, roles=ACCOUNT_SCOPE)
class EnableAccount(Command):
    """Enables an account"""

    id = Param("uuid", entity=Account, description="Account id")
    account = Param(description="Enables specified account.")
    domainid = Param("uuid", entity=Domain, description="Enables specified account in this domain.")

    def handle(self, ctx: Context) -> AccountResponse:
        account = iam.set_account_state(ctx.session, ctx.caller, _account(ctx, self), "enabled")
        return account_views(ctx.session, [account])[0]


@command("lockAccount", response=AccountResponse, roles=ACCOUNT_SCOPE)
class LockAccount(Command):
    """This deprecated function used to locks an account. Look for the API DisableAccount instead"""

    account = Param(required=True, description="Locks the specified account.")
    domainid = Param("uuid", entity=Domain, required=True, description="Locks the specified account on this domain.")

    def handle(self, ctx: Context) -> AccountResponse:
        account = iam.set_account_state(ctx.session, ctx.caller, _account(ctx, self), "locked")
        return account_views(ctx.session, [account])[0]


@command("disableAccount", response=AccountResponse, is_async=True, roles=ACCOUNT_SCOPE, event="ACCOUNT.DISABLE",
         instance_type="Account", java_class="org.apache.cloudstack.api.command.admin.account.DisableAccountCmd")
class DisableAccount(Command):
    """Disables an account"""

    lock = Param("boolean", required=True, description="If true, only lock the account; else disable the account")
    id = Param("uuid", entity=Account, description="Account id")
    account = Param(description="Disables specified account.")
    domainid = Param("uuid", entity=Domain, description="Disables specified account in this domain.")

    def prepare(self, ctx: Context) -> Prepared:
        account = _account(ctx, self)
        iam.check_account_state_change(ctx.caller, account, "locked" if self.lock else "disabled")
        return Prepared(instance=account)

    def run(self, ctx: Context) -> AccountResponse:
        account = iam.set_account_state(ctx.session, ctx.caller, _account(ctx, self),
                                        "locked" if self.lock else "disabled")
        return account_views(ctx.session, [account])[0]


@command("deleteAccount", is_async=True, roles=ACCOUNT_SCOPE, event="ACCOUNT.DELETE", instance_type="Account",
         java_class="org.apache.cloudstack.api.command.admin.account.DeleteAccountCmd")
class DeleteAccount(Command):
    """Deletes a account, and all users associated with this account"""

    id = Param("uuid", entity=Account, required=True, description="Account id")

    def prepare(self, ctx: Context) -> Prepared:
        account = iam.find_account(ctx.session, ctx.caller, account=self.id, name=None, domain=None)
        iam.check_account_deletable(ctx.caller, account)
        return Prepared(instance=account)

    def run(self, ctx: Context) -> Success:
        if self.id.removed is None:
            iam.delete_account(ctx.session, ctx.caller, self.id)
        return Success()


@command("listAccounts", response=AccountResponse, list_key="account")
class ListAccounts(ListDomainResourcesCommand):
    """Lists accounts and provides detailed account information for listed accounts"""

    id = Param("uuid", entity=Account, description="List account by account ID")
    name = Param(description="List account by account name")
    accounttype = Param("integer", description="List accounts by account type.")
    state = Param(description="List accounts by state. Valid states are enabled, disabled, and locked.")
    iscleanuprequired = Param("boolean", description="List accounts by cleanuprequired attribute (values are true or "
                                                     "false)")
    details = Param("list", description="comma separated list of account details requested")
    account = None  # CloudStack's listAccounts has no account parameter (use name)

    def handle(self, ctx: Context) -> ListResult:
        scope = access.admin_subtree_scope(ctx.session, ctx.caller, domain=self.domainid, recursive=self.isrecursive,
                                           listall=self.listall)
        offset, limit = self.window(ctx.session)
        rows, total = iam.list_accounts(ctx.session, scope, account_id=self.id.id if self.id else None,
                                        name=self.name, account_type=self.accounttype,
                                        state=self.state, keyword=self.keyword, offset=offset, limit=limit)
        return ListResult(account_views(ctx.session, rows), total)


@command("createUser", response=UserResponse, roles=ACCOUNT_SCOPE)
class CreateUser(Command):
    """Creates a user for an account that already exists"""

    account = Param(required=True, description="Creates the user under the specified account.")
    username = Param(required=True, description="Unique username.")
    password = Param(required=True, description="Clear text password.")
    email = Param(required=True, description="email")
    firstname = Param(required=True, description="firstname")
    lastname = Param(required=True, description="lastname")
    domainid = Param("uuid", entity=Domain, description="Creates the user under the specified domain. Has to be "
                                                        "accompanied with the account parameter")
    timezone = Param(description="Specifies a timezone for this command.")
    userid = Param(description="User UUID, required for adding account from external provisioning system")

    def handle(self, ctx: Context) -> UserResponse:
        domain = self.domainid or ctx.session.get(Domain, ctx.caller.domain_id)
        account = iam.find_account(ctx.session, ctx.caller, account=None, name=self.account, domain=domain)
        user = iam.create_user(ctx.session, ctx.caller, account=account, username=self.username,
                               password=self.password, email=self.email, firstname=self.firstname,
                               lastname=self.lastname, timezone=self.timezone, uuid=self.userid)
        return user_views(ctx.session, [user])[0]


@command("updateUser", response=UserResponse)
class UpdateUser(Command):
    """Updates a user account"""

    id = Param("uuid", entity=User, required=True, description="User uuid")
    username = Param(description="Unique username")
    password = Param(description="Clear text password (default hashed to SHA256SALT).")
    currentpassword = Param(description="Current password that was being used by the user.")
    email = Param(description="email")
    firstname = Param(description="first name")
    lastname = Param(description="last name")
    timezone = Param(description="Specifies a timezone for this command.")
    userapikey = Param(description="The API key for the user. Must be specified with userSecretKey")
    usersecretkey = Param(description="The secret key for the user. Must be specified with userApiKey")

    def handle(self, ctx: Context) -> UserResponse:
        user = iam.update_user(ctx.session, ctx.caller, self.id, username=self.username, password=self.password,
                               current_password=self.currentpassword, email=self.email, firstname=self.firstname,
                               lastname=self.lastname, timezone=self.timezone, api_key=self.userapikey,
                               secret_key=self.usersecretkey)
        return user_views(ctx.session, [user])[0]


@command("deleteUser", roles=ACCOUNT_SCOPE)
class DeleteUser(Command):
    """Deletes a user for an account"""

    id = Param("uuid", entity=User, required=True, description="id of the user to be deleted")

    def handle(self, ctx: Context) -> Success:
        iam.delete_user(ctx.session, ctx.caller, self.id)
        return Success()


@command("enableUser", response=UserResponse, roles=ACCOUNT_SCOPE)
class EnableUser(Command):
    """Enables a user account"""

    id = Param("uuid", entity=User, required=True, description="Enables user by user ID.")

    def handle(self, ctx: Context) -> UserResponse:
        return user_views(ctx.session, [iam.set_user_state(ctx.session, ctx.caller, self.id, "enabled")])[0]


@command("lockUser", response=UserResponse, roles=ACCOUNT_SCOPE)
class LockUser(Command):
    """Locks a user account"""

    id = Param("uuid", entity=User, required=True, description="Locks user by user ID.")

    def handle(self, ctx: Context) -> UserResponse:
        return user_views(ctx.session, [iam.set_user_state(ctx.session, ctx.caller, self.id, "locked")])[0]


@command("disableUser", response=UserResponse, is_async=True, roles=ACCOUNT_SCOPE, event="USER.DISABLE",
         instance_type="User")
class DisableUser(Command):
    """Disables a user account"""

    id = Param("uuid", entity=User, required=True, description="Disables user by user ID.")

    def prepare(self, ctx: Context) -> Prepared:
        iam.check_user_access(ctx.session, ctx.caller, self.id)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> UserResponse:
        return user_views(ctx.session, [iam.set_user_state(ctx.session, ctx.caller, self.id, "disabled")])[0]


@command("listUsers", response=UserResponse, list_key="user")
class ListUsers(ListDomainResourcesCommand):
    """Lists user accounts"""

    id = Param("uuid", entity=User, description="List user by ID.")
    username = Param(description="List user by the username")
    accounttype = Param("integer", description="List users by account type.")
    state = Param(description="List users by state of the user account.")

    def handle(self, ctx: Context) -> ListResult:
        scope = access.admin_subtree_scope(ctx.session, ctx.caller, domain=self.domainid, recursive=self.isrecursive,
                                           listall=self.listall)
        offset, limit = self.window(ctx.session)
        rows, total = iam.list_users(ctx.session, scope, user_id=self.id.id if self.id else None,
                                     username=self.username, account_name=self.account, account_type=self.accounttype,
                                     state=self.state, keyword=self.keyword, offset=offset, limit=limit)
        return ListResult(user_views(ctx.session, rows), total)


@command("getUser", response=UserResponse, roles=ADMINS)
class GetUser(Command):
    """Find user account by API key"""

    userapikey = Param(required=True, description="API key of the user")

    def handle(self, ctx: Context) -> UserResponse:
        user = iam.user_by_api_key(ctx.session, self.userapikey)
        if user is None:
            raise InvalidParameter("Unable to find user by API key (parameter userapikey)")
        return user_views(ctx.session, [user], show_keys=True)[0]


@command("registerUserKeys", response=UserKeysResponse,
         java_class="org.apache.cloudstack.api.command.admin.user.RegisterCmd")
class RegisterUserKeys(Command):
    """This command allows a user to register for the developer API, returning a secret key and an API key. This
    request is made through the integration API port, so it is a privileged command and must be made on behalf of a
    user. It is up to the implementer just how the username and password are entered, and then how that translates
    to an integration API request. Both secret key and API key should be returned to the user"""

    id = Param("uuid", entity=User, required=True, description="User id")

    def handle(self, ctx: Context) -> UserKeysResponse:
        user = iam.register_user_keys(ctx.session, ctx.caller, self.id)
        return UserKeysResponse(apikey=user.api_key, secretkey=user.secret_key)


@command("getUserKeys", response=UserKeysResponse)
class GetUserKeys(Command):
    """This command allows the user to query the secret and API keys for the account"""

    id = Param("uuid", entity=User, required=True, description="ID of the user whose keys are required")

    def handle(self, ctx: Context) -> UserKeysResponse:
        user = iam.get_user_keys(ctx.session, ctx.caller, self.id)
        return UserKeysResponse(apikey=user.api_key, secretkey=user.secret_key)


@command("createDomain", response=DomainResponse, roles=ACCOUNT_SCOPE)
class CreateDomain(Command):
    """Creates a domain"""

    name = Param(required=True, description="Creates domain with this name")
    parentdomainid = Param("uuid", entity=Domain, description="Assigns new domain a parent domain by domain ID of the "
                                                              "parent.  If no parent domain is specified, the ROOT "
                                                              "domain is assumed.")
    networkdomain = Param(description="Network domain for networks in the domain")
    domainid = Param(description="Domain UUID, required for adding domain from another Region")

    def handle(self, ctx: Context) -> DomainResponse:
        domain = iam.create_domain(ctx.session, ctx.caller, name=self.name, parent=self.parentdomainid,
                                   network_domain=self.networkdomain, uuid=self.domainid)
        return domain_views(ctx.session, [domain])[0]


@command("updateDomain", response=DomainResponse, roles=ACCOUNT_SCOPE)
class UpdateDomain(Command):
    """Updates a domain with a new name"""

    id = Param("uuid", entity=Domain, required=True, description="ID of domain to update")
    name = Param(description="updates domain with this name")
    networkdomain = Param(description="Network domain for the domain's networks; empty string will update domainName "
                                      "with NULL value")

    def handle(self, ctx: Context) -> DomainResponse:
        domain = iam.update_domain(ctx.session, ctx.caller, self.id, name=self.name, network_domain=self.networkdomain)
        return domain_views(ctx.session, [domain])[0]


@command("deleteDomain", is_async=True, roles=ACCOUNT_SCOPE, event="DOMAIN.DELETE", instance_type="Domain",
         java_class="org.apache.cloudstack.api.command.admin.domain.DeleteDomainCmd")
class DeleteDomain(Command):
    """Deletes a specified domain"""

    id = Param("uuid", entity=Domain, required=True, description="ID of domain to delete")
    cleanup = Param("boolean", default=False, description="true if all domain resources (child domains, accounts) "
                                                          "have to be cleaned up, false otherwise")

    def prepare(self, ctx: Context) -> Prepared:
        iam.check_domain_deletable(ctx.caller, self.id)
        return Prepared(instance=self.id)

    def run(self, ctx: Context) -> Success:
        iam.delete_domain(ctx.session, ctx.caller, self.id, cleanup=self.cleanup)
        return Success()


@command("listDomains", response=DomainResponse, list_key="domain", roles=DOMAIN_ADMINS)
class ListDomains(ListCommand):
    """Lists domains and provides detailed information for listed domains"""

    id = Param("uuid", entity=Domain, description="List domain by domain ID.")
    name = Param(description="List domain by domain name.")
    level = Param("integer", description="List domains by domain level.")
    listall = Param("boolean", default=False, description="If set to false, list only resources belonging to the "
                                                          "command's caller; if set to true - list resources that the "
                                                          "caller is authorized to see. Default value is false")
    details = Param("list", description="comma separated list of domain details requested")

    def handle(self, ctx: Context) -> ListResult:
        offset, limit = self.window(ctx.session)
        rows, total = iam.list_domains(ctx.session, ctx.caller, domain_id=self.id.id if self.id else None,
                                       name=self.name, level=self.level, keyword=self.keyword, listall=self.listall,
                                       recursive=False, offset=offset, limit=limit)
        return ListResult(domain_views(ctx.session, rows), total)


@command("listDomainChildren", response=DomainResponse, list_key="domain", roles=DOMAIN_ADMINS)
class ListDomainChildren(ListCommand):
    """Lists all children domains belonging to a specified domain"""

    id = Param("uuid", entity=Domain, description="list children domain by parent domain ID.")
    name = Param(description="list children domains by name")
    isrecursive = Param("boolean", default=False, description="to return the entire tree, use the value \"true\". To "
                                                              "return the first level children, use the value "
                                                              "\"false\".")
    listall = Param("boolean", default=False, description="If set to false, list only resources belonging to the "
                                                          "command's caller")

    def handle(self, ctx: Context) -> ListResult:
        offset, limit = self.window(ctx.session)
        rows, total = iam.list_domain_children(ctx.session, ctx.caller, parent=self.id,
                                               recursive=self.isrecursive or self.listall, keyword=self.keyword,
                                               offset=offset, limit=limit)
        return ListResult(domain_views(ctx.session, rows), total)


@command("listRoles", response=RoleResponse, list_key="role", roles=DOMAIN_ADMINS)
class ListRoles(ListCommand):
    """Lists dynamic roles in CloudStack"""

    id = Param("uuid", entity=Role, description="List role by role ID.")
    name = Param(description="List role by role name.")
    type = Param(description="List role by role type, valid options are: Admin, ResourceAdmin, DomainAdmin, User.",
                 choices=("Admin", "ResourceAdmin", "DomainAdmin", "User"))

    def handle(self, ctx: Context) -> ListResult:
        offset, limit = self.window(ctx.session)
        rows, total = iam.list_roles(ctx.session, role_id=self.id.id if self.id else None, name=self.name,
                                     role_type=self.type, keyword=self.keyword, offset=offset, limit=limit,
                                     public_only=not ctx.caller.is_root_admin)
        return ListResult([role_view(r) for r in rows], total)
