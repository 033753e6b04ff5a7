"""createTags, deleteTags, listTags."""

from __future__ import annotations

from management.api.native.params import Param
from management.api.native.registry import Command, ListDomainResourcesCommand, ListResult, Prepared, Success, command
from management.api.native.responses import ResponseObject
from management.context import Context
from management.iam import access
from management.pagination import page
from management.tags import service as tags

JAVA = "org.apache.cloudstack.api.command.user.tag."


class TagResponse(ResponseObject):
    object_name = "tag"
    key: str
    value: str
    resourcetype: str
    resourceid: str
    account: str | None = None
    domainid: str | None = None
    domain: str | None = None
    domainpath: str | None = None
    customer: str | None = None


class _TagCommand(Command):
    resourceids = Param("list", required=True, description="list of resources to create the tags for")
    resourcetype = Param(required=True, description="type of the resource")

    def pairs(self, *, values_required: bool) -> list[tuple[str, str | None]]:
        return tags.pairs(self.map_list("tags"), values_required=values_required)


@command("createTags", is_async=True, event="CREATE_TAGS", java_class=JAVA + "CreateTagsCmd")
class CreateTags(_TagCommand):
    """Creates resource tag(s)"""

    tags = Param("map", required=True, description="Map of tags (key/value pairs)")
    customer = Param(description="identifies client specific tag. When the value is not null, the tag can't be "
                                 "used by cloudStack code internally")

    def prepare(self, ctx: Context) -> Prepared:
        tags.check_create(ctx.session, ctx.caller, self.resourcetype, list(self.resourceids),
                          self.pairs(values_required=True))
        return Prepared()

    def run(self, ctx: Context) -> Success:
        tags.create(ctx.session, ctx.caller, self.resourcetype, list(self.resourceids),
                    self.pairs(values_required=True), self.customer)
        return Success()


@command("deleteTags", is_async=True, event="DELETE_TAGS", java_class=JAVA + "DeleteTagsCmd")
class DeleteTags(_TagCommand):
    """Deleting resource tag(s)"""

    resourceids = Param("list", required=True, description="Delete tags for resource id(s)")
    resourcetype = Param(required=True, description="Delete tag by resource type")
    tags = Param("map", description="Delete tags matching key/value pairs")

    def prepare(self, ctx: Context) -> Prepared:
        tags.check_delete(ctx.session, ctx.caller, self.resourcetype, list(self.resourceids),
                          self.pairs(values_required=False))
        return Prepared()

    def run(self, ctx: Context) -> Success:
        tags.delete_tags(ctx.session, ctx.caller, self.resourcetype, list(self.resourceids),
                         self.pairs(values_required=False))
        return Success()


@command("listTags", response=TagResponse, list_key="tag", java_class=JAVA + "ListTagsCmd")
class ListTags(ListDomainResourcesCommand):
    """List resource tag(s)"""

    resourceid = Param(description="list by resource id")
    resourcetype = Param(description="list by resource type")
    key = Param(description="list by key")
    value = Param(description="list by value")
    customer = Param(description="list by customer name")

    def handle(self, ctx: Context) -> ListResult:
        scope = access.list_scope(ctx.session, ctx.caller, account_name=self.account, domain=self.domainid,
                                  recursive=self.isrecursive, listall=self.listall)
        query = tags.list_query(scope, kind_name=self.resourcetype, resource_uuid=self.resourceid, key=self.key,
                                value=self.value, customer=self.customer, keyword=self.keyword)
        offset, limit = self.window(ctx.session)
        rows, total = page(ctx.session, query, offset, limit)
        return ListResult([TagResponse(**view) for view in tags.views(ctx.session, rows)], total)
