"""Templates and ISOs: register (real downloads into the zone's image store), update, delete,
launch permissions, and listTemplates/listIsos with CloudStack's template filters."""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

from sqlalchemy import and_, delete, or_, select, true
from sqlalchemy.orm import Session

from management.config import service as config
from management.context import Caller
from management.db import utcnow
from management.errors import InvalidParameter, PermissionDenied
from management.events import service as events
from management.iam.access import Scope, check_account_access, owner_for
from management.iam.models import Account, Domain
from management.infra.models import Zone
from management.jobs.service import after_commit
from management.storage import images, secondary_usage
from management.storage.models import (
    DownloadState,
    GuestOs,
    ImageStore,
    LaunchPermission,
    Template,
    TemplateStoreRef,
)
from management.tags import service as tag_service

FORMATS = ("QCOW2", "RAW", "VHD", "VHDX", "OVA", "ISO", "VMDK", "TAR", "DIR", "BAREMETAL")
HYPERVISORS = ("KVM", "XenServer", "VMware", "Hyperv", "BareMetal", "Simulator", "Ovm3", "LXC", "Any")
FILTERS = ("featured", "self", "selfexecutable", "shared", "sharedexecutable", "executable", "community", "all")
TEMPLATE_TYPES = ("USER", "BUILTIN", "SYSTEM", "ROUTING", "PERHOST")
# Extensions a URL's path may end with for each format (CloudStack's UriUtils.checkFormat), before an
# optional compression suffix.
EXTENSIONS = {"QCOW2": ("qcow2",), "RAW": ("raw", "img"), "VHD": ("vhd",), "VHDX": ("vhdx",), "OVA": ("ova",),
              "ISO": ("iso",), "VMDK": ("vmdk",), "TAR": ("tar",)}
COMPRESSIONS = ("", ".gz", ".bz2")
HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
HASH_PREFIXES = {"MD5": "md5", "SHA-1": "sha1", "SHA1": "sha1", "SHA-256": "sha256", "SHA256": "sha256",
                 "SHA-512": "sha512", "SHA512": "sha512"}
DEFAULT_OS_NAME = "Other Linux (64-bit)"

# Counters of what still uses a template (VMs and volumes, later issues); deleteTemplate refuses while any
# is non-zero unless ``forced``.
TEMPLATE_USAGE_COUNTERS: list[Callable[[Session, Template], int]] = []


def media(template: Template) -> str:
    return "ISO" if template.is_iso else "template"


# --- validation helpers -------------------------------------------------------------------------------

def parse_checksum(value: str | None) -> tuple[str, str] | None:
    """CloudStack's checksum forms: ``{MD5}hex``, ``{SHA-256}hex``... or bare hex (algorithm by length)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    algorithm = None
    match = re.match(r"^\{([A-Za-z0-9-]+)\}(.*)$", text)
    if match:
        algorithm = HASH_PREFIXES.get(match.group(1).upper())
        if algorithm is None:
            raise InvalidParameter(f"Unsupported checksum algorithm {match.group(1)}: use MD5, SHA-1, SHA-256 or "
                                   "SHA-512")
        text = match.group(2).strip()
    if not re.fullmatch(r"[0-9a-fA-F]+", text or "x"):
        raise InvalidParameter(f"Invalid checksum {value}: expected a hexadecimal digest")
    expected = HASH_LENGTHS.get(len(text))
    if expected is None or (algorithm is not None and algorithm != expected):
        raise InvalidParameter(f"Invalid checksum {value}: the digest length does not match the algorithm")
    return expected, text.lower()


def allowed_internal_networks(session: Session) -> list:
    value = config.get_value(session, "secstorage.allowed.internal.sites") or ""
    networks = []
    for item in value.split(","):
        item = item.strip()
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                continue
    return networks


def check_download_address(host: str, networks: list) -> None:
    """Refuse URLs whose host is local (loopback, link-local, any, multicast) as CloudStack's
    UriUtils.validateUrl does, unless the address is in ``secstorage.allowed.internal.sites``."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise InvalidParameter(f"Unable to resolve {host}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if any(address in net for net in networks):
            continue
        if address.is_loopback or address.is_link_local or address.is_unspecified or address.is_multicast:
            raise InvalidParameter(f"Illegal host specified in url: {host} ({address}) is a local address; add it "
                                   "to secstorage.allowed.internal.sites to allow it")


def validate_url(session: Session, url: str, fmt: str) -> str:
    url = url.strip()
    try:
        parsed = urlparse(url)
        _ = parsed.port  # raises on a bad port
    except ValueError:
        raise InvalidParameter(f"Please specify a valid URL. URL:{url} is invalid") from None
    if parsed.scheme.lower() not in ("http", "https"):
        raise InvalidParameter(f"Unsupported scheme for url: {url}")
    if not parsed.hostname:
        raise InvalidParameter(f"Please specify a valid URL. URL:{url} has no host")
    extensions = EXTENSIONS.get(fmt)
    if extensions:
        path = parsed.path.lower()
        if not any(path.endswith("." + ext + comp) for ext in extensions for comp in COMPRESSIONS):
            raise InvalidParameter(f"Please specify a valid URL. URL:{url} is an invalid for the format "
                                   f"{fmt.lower()}")
    check_download_address(parsed.hostname, allowed_internal_networks(session))
    return url


def pick(value: str, choices: tuple[str, ...], what: str) -> str:
    for choice in choices:
        if choice.lower() == value.strip().lower():
            return choice
    raise InvalidParameter(f"{what}: {value} is incorrect. Supported values are {', '.join(choices)}")


def template_owner(session: Session, caller: Caller, account_name: str | None, domain: Domain | None) -> Account:
    return owner_for(session, caller, account_name, domain)


def target_zones(session: Session, zones: list[Zone | None], all_zones: bool) -> list[tuple[Zone, ImageStore]]:
    """(zone, image store) for each zone the template goes to; 431 when a zone has no image store."""
    targets = []
    if all_zones:
        for zone in session.scalars(select(Zone).where(Zone.removed.is_(None)).order_by(Zone.id)):
            stores = images.zone_stores(session, zone.id)
            if stores:
                targets.append((zone, stores[0]))
        if not targets:
            raise InvalidParameter("Failed to find a secondary storage (image store) in any zone: add one first")
        return targets
    seen = set()
    for zone in zones:
        if zone is None or zone.id in seen:
            continue
        seen.add(zone.id)
        if zone.removed is not None:
            raise InvalidParameter(f"Unable to find zone by id {zone.uuid}")
        stores = images.zone_stores(session, zone.id)
        if not stores:
            raise InvalidParameter(f"Failed to find a secondary storage (image store) in zone {zone.name}: "
                                   "no secondary storage in zone")
        targets.append((zone, stores[0]))
    if not targets:
        raise InvalidParameter("Please specify a valid zone id: zoneid or zoneids is required")
    return targets


@dataclass
class Registration:
    name: str
    display_text: str | None
    url: str
    format: str
    hypervisor: str | None
    zones: list
    all_zones: bool
    guest_os: GuestOs | None
    is_public: bool = False
    featured: bool = False
    extractable: bool = False
    password_enabled: bool = False
    sshkey_enabled: bool = False
    dynamically_scalable: bool = False
    bootable: bool = True
    requires_hvm: bool = True
    bits: int = 64
    checksum: str | None = None
    details: dict | None = None
    template_type: str | None = None
    account_name: str | None = None
    domain: Domain | None = None


def register(session: Session, caller: Caller, reg: Registration) -> tuple[Template, list[TemplateStoreRef]]:
    """Create the template and one store ref per target zone (DOWNLOAD_IN_PROGRESS 0%), then queue the
    downloads once the transaction commits."""
    iso = reg.format == "ISO"
    if not reg.name or not reg.name.strip():
        raise InvalidParameter("Template name cannot be empty")
    owner = template_owner(session, caller, reg.account_name, reg.domain)
    if owner.removed is not None or owner.state != "enabled":
        raise PermissionDenied(f"Account {owner.account_name} is not enabled")
    owner_is_admin = owner.type in (1, 2, 3, 4)
    if reg.is_public and not caller.is_admin and not config.get_bool(session, "allow.public.user.templates",
                                                                                account=caller.account_id):
        raise InvalidParameter(f"Only private {'ISO' if iso else 'template'}s can be created.")
    if reg.featured and not caller.is_root_admin:
        raise PermissionDenied("Only ROOT admins are allowed to make a template or ISO featured")
    checksum = parse_checksum(reg.checksum)
    url = validate_url(session, reg.url, reg.format)
    template_type = "USER"
    if reg.template_type:
        template_type = pick(reg.template_type, TEMPLATE_TYPES, "templatetype")
        if template_type != "USER" and not caller.is_root_admin:
            raise PermissionDenied("Only ROOT admins may register templates of type " + template_type)
    guest_os = reg.guest_os
    if guest_os is None:
        if iso and reg.bootable:
            raise InvalidParameter("Please pass a valid GuestOS Id")
        guest_os = session.scalar(select(GuestOs).where(GuestOs.display_name == DEFAULT_OS_NAME))
    elif guest_os.removed is not None:
        raise InvalidParameter(f"Please specify a valid guest OS: {guest_os.uuid} is removed")
    targets = target_zones(session, reg.zones, reg.all_zones)
    template = Template(name=reg.name.strip(), display_text=reg.display_text or reg.name, format=reg.format,
                        hypervisor=None if iso else reg.hypervisor, guest_os_id=guest_os.id if guest_os else None,
                        url=url, checksum=reg.checksum.strip() if checksum else None, is_public=reg.is_public,
                        featured=reg.featured, extractable=reg.extractable if (iso or owner_is_admin or
                                                                                caller.is_admin) else False,
                        password_enabled=reg.password_enabled, sshkey_enabled=reg.sshkey_enabled,
                        dynamically_scalable=reg.dynamically_scalable, bootable=reg.bootable if iso else True,
                        requires_hvm=reg.requires_hvm, bits=reg.bits, cross_zones=reg.all_zones,
                        type=template_type, account_id=owner.id, domain_id=owner.domain_id,
                        details=json.dumps(reg.details) if reg.details else None)
    session.add(template)
    session.flush()
    template.unique_name = f"{template.id}-{owner.id}-{template.uuid}"
    refs = []
    for zone, store in targets:
        ref = TemplateStoreRef(template_id=template.id, store_id=store.id, zone_id=zone.id,
                               download_state=DownloadState.IN_PROGRESS, download_pct=0)
        session.add(ref)
        refs.append(ref)
    session.flush()
    events.record(session, caller, "ISO.CREATE" if iso else "TEMPLATE.CREATE",
                  f"Successfully registered {media(template)} {template.name}", resource=template,
                  resource_type="Iso" if iso else "Template", account_id=owner.id, domain_id=owner.domain_id)
    queue_downloads(session, [r.id for r in refs])
    return template, refs


def queue_downloads(session: Session, ref_ids: list[int]) -> None:
    def send(ids=tuple(ref_ids)) -> None:
        from management.storage.tasks import download_template

        for ref_id in ids:
            download_template.apply_async(args=[ref_id])

    after_commit(session, send)


# --- access ---------------------------------------------------------------------------------------------

def check_owner_access(session: Session, caller: Caller, template: Template) -> None:
    """The caller may modify ``template``: its owner, or an admin over the owner's domain."""
    if template.removed is not None:
        raise InvalidParameter(f"Unable to find {media(template)} with id {template.uuid}")
    owner = session.get(Account, template.account_id)
    try:
        check_account_access(session, caller, owner)
    except PermissionDenied:
        raise PermissionDenied(f"Account {caller.account_name} does not have permission to modify "
                               f"{media(template)} {template.uuid}") from None


def can_use(session: Session, caller: Caller, template: Template) -> bool:
    """Launch access: public, owned (or admin over the owner), or shared with the caller's account."""
    if template.removed is not None:
        return False
    if template.is_public:
        return True
    try:
        check_owner_access(session, caller, template)
        return True
    except PermissionDenied:
        pass
    return session.scalar(select(LaunchPermission.id).where(LaunchPermission.template_id == template.id,
                                                            LaunchPermission.account_id == caller.account_id)) \
        is not None


def check_kind(template: Template, iso: bool) -> None:
    if template.is_iso != iso:
        raise InvalidParameter(f"Please specify a valid {'ISO' if iso else 'template'}.")


# --- update, delete, permissions -------------------------------------------------------------------------

def update(session: Session, caller: Caller, template: Template, *, iso: bool, name: str | None,
           display_text: str | None, guest_os: GuestOs | None, fmt: str | None, password_enabled: bool | None,
           sshkey_enabled: bool | None, bootable: bool | None, requires_hvm: bool | None,
           dynamically_scalable: bool | None, sort_key: int | None, details: dict | None,
           cleanup_details: bool | None, template_type: str | None) -> Template:
    check_kind(template, iso)
    check_owner_access(session, caller, template)
    if name is not None:
        if not name.strip():
            raise InvalidParameter("Name cannot be empty")
        template.name = name.strip()
    if display_text is not None:
        template.display_text = display_text
    if guest_os is not None:
        template.guest_os_id = guest_os.id
    if fmt is not None:
        fmt = pick(fmt, FORMATS, "Image format")
        if (fmt == "ISO") != iso:
            raise InvalidParameter(f"Image format {fmt} is not valid for a{'n ISO' if iso else ' template'}")
        template.format = fmt
    for attr, value in (("password_enabled", password_enabled), ("sshkey_enabled", sshkey_enabled),
                        ("requires_hvm", requires_hvm), ("dynamically_scalable", dynamically_scalable),
                        ("sort_key", sort_key)):
        if value is not None:
            setattr(template, attr, value)
    if bootable is not None and iso:
        template.bootable = bootable
    if template_type is not None:
        if not caller.is_root_admin:
            raise PermissionDenied("Only ROOT admins may change the template type")
        template.type = pick(template_type, TEMPLATE_TYPES, "templatetype")
    if cleanup_details:
        template.details = None
    elif details:
        merged = json.loads(template.details) if template.details else {}
        merged.update(details)
        template.details = json.dumps(merged)
    session.flush()
    events.record(session, caller, "ISO.UPDATE" if iso else "TEMPLATE.UPDATE",
                  f"Updated {media(template)} {template.name}", resource=template,
                  resource_type="Iso" if iso else "Template", account_id=template.account_id,
                  domain_id=template.domain_id)
    return template


def check_deletable(session: Session, caller: Caller, template: Template, *, iso: bool, zone: Zone | None,
                    forced: bool) -> None:
    check_kind(template, iso)
    check_owner_access(session, caller, template)
    if template.type == "SYSTEM" and not caller.is_root_admin:
        raise PermissionDenied("Only ROOT admins may delete system templates")
    if zone is not None and session.scalar(select(TemplateStoreRef.id).where(
            TemplateStoreRef.template_id == template.id, TemplateStoreRef.zone_id == zone.id)) is None:
        raise InvalidParameter(f"Failed to find {media(template)} {template.uuid} in zone {zone.uuid}")
    if not forced:
        in_use = sum(counter(session, template) for counter in TEMPLATE_USAGE_COUNTERS)
        if in_use:
            raise InvalidParameter(f"Unable to delete {media(template)} {template.uuid}: it is used by {in_use} "
                                   "virtual machine(s)/volume(s); use forced=true")


def delete_template(session: Session, caller: Caller, template: Template, *, iso: bool, zone: Zone | None,
                    forced: bool) -> None:
    """Remove the template from one zone (``zone``) or all; the row is removed when no copy is left.
    Files on Local stores are deleted after the transaction commits."""
    check_deletable(session, caller, template, iso=iso, zone=zone, forced=forced)
    query = select(TemplateStoreRef).where(TemplateStoreRef.template_id == template.id)
    if zone is not None:
        query = query.where(TemplateStoreRef.zone_id == zone.id)
    refs = session.scalars(query).all()
    stores = {s.id: s for s in session.scalars(select(ImageStore).where(
        ImageStore.id.in_({r.store_id for r in refs})))} if refs else {}
    doomed: list[tuple[ImageStore, TemplateStoreRef]] = []
    usage_type = "ISO.DELETE" if iso else "TEMPLATE.DELETE"
    for ref in refs:
        if ref.download_state == DownloadState.DOWNLOADED:
            events.record_usage(session, usage_type, account_id=template.account_id, zone_id=ref.zone_id,
                                resource_id=template.id, resource_name=template.name)
        doomed.append((stores[ref.store_id], ref))
        secondary_usage.refund(session, template.account_id, ref.physical_size)
        session.delete(ref)
    session.flush()
    remaining = session.scalar(select(TemplateStoreRef.id).where(TemplateStoreRef.template_id == template.id))
    if remaining is None:
        template.removed, template.state = utcnow(), "Inactive"
        session.execute(delete(LaunchPermission).where(LaunchPermission.template_id == template.id))
    events.record(session, caller, usage_type, f"Deleted {media(template)} {template.name}"
                  + (f" from zone {zone.name}" if zone is not None else ""), resource=template,
                  resource_type="Iso" if iso else "Template", account_id=template.account_id,
                  domain_id=template.domain_id)
    paths = [(store, ref.install_path, ref.template_id, template.account_id) for store, ref in doomed]

    def cleanup(paths=paths) -> None:
        from management.storage import download

        for store, install_path, template_id, account_id in paths:
            download.remove_files(store, install_path, template_id, account_id)

    after_commit(session, cleanup)


def update_permissions(session: Session, caller: Caller, template: Template, *, iso: bool, is_public: bool | None,
                       featured: bool | None, extractable: bool | None, accounts: list[str] | None,
                       op: str | None, project_ids: list | None) -> None:
    check_kind(template, iso)
    check_owner_access(session, caller, template)
    if template.type in ("SYSTEM", "BUILTIN") and not caller.is_root_admin:
        raise InvalidParameter(f"Please specify a valid {media(template)}.")
    if project_ids:
        raise InvalidParameter("Projects are not supported yet: use accounts")
    operation = op.lower() if op else None
    if accounts and operation not in ("add", "remove"):
        if operation == "reset":
            raise InvalidParameter("Accounts can't be specified with the reset operation")
        raise InvalidParameter("Invalid operation on accounts, the operation must be either 'add' or 'remove' in "
                               f"order to modify launch permissions. Given operation is: '{op}'")
    if operation is not None and operation not in ("add", "remove", "reset"):
        raise InvalidParameter("Invalid operation on accounts, the operation must be either 'add' or 'remove' in "
                               f"order to modify launch permissions. Given operation is: '{op}'")
    if is_public and not caller.is_admin and not config.get_bool(session, "allow.public.user.templates",
                                                                                account=caller.account_id):
        raise InvalidParameter(f"Only private {'ISO' if iso else 'template'}s can be created.")
    if featured is not None and not caller.is_root_admin:
        raise PermissionDenied("Only ROOT admins are allowed to change the isfeatured attribute")
    if extractable is not None and not iso and not caller.is_root_admin:
        raise InvalidParameter("Only ROOT admins are allowed to modify isExtractable attribute.")
    targets: list[Account] = []
    if accounts:
        domain = session.get(Domain, template.domain_id)
        for name in accounts:
            account = session.scalar(select(Account).where(Account.domain_id == template.domain_id,
                                                           Account.account_name == name, Account.removed.is_(None)))
            if account is None:
                raise InvalidParameter(f"Unable to grant a launch permission to account {name} in domain id="
                                       f"{domain.uuid}, account not found. No permissions updated, please verify "
                                       "the account names and retry.")
            targets.append(account)
    if is_public is not None:
        template.is_public = is_public
    if featured is not None:
        template.featured = featured
    if extractable is not None:
        template.extractable = extractable
    if operation == "add":
        existing = set(session.scalars(select(LaunchPermission.account_id).where(
            LaunchPermission.template_id == template.id)))
        for account in targets:
            if account.id not in existing and account.id != template.account_id:
                session.add(LaunchPermission(template_id=template.id, account_id=account.id))
                existing.add(account.id)
    elif operation == "remove" and targets:
        session.execute(delete(LaunchPermission).where(LaunchPermission.template_id == template.id,
                                                       LaunchPermission.account_id.in_([a.id for a in targets])))
    elif operation == "reset":
        template.is_public = False
        template.featured = False
        session.execute(delete(LaunchPermission).where(LaunchPermission.template_id == template.id))
    session.flush()


def permissions(session: Session, caller: Caller, template: Template, *, iso: bool) -> tuple[Template, list[str]]:
    check_kind(template, iso)
    check_owner_access(session, caller, template)
    names = session.scalars(select(Account.account_name).join(LaunchPermission,
                                                              LaunchPermission.account_id == Account.id)
                            .where(LaunchPermission.template_id == template.id).order_by(Account.account_name))
    return template, list(names)


# --- listing ----------------------------------------------------------------------------------------------

@dataclass
class ListFilter:
    filter: str
    iso: bool
    scope: Scope
    account_specific: bool = False
    explicit_owner: bool = False  # account/domainid given: "all" is restricted to them
    template_id: int | None = None
    template_ids: list[int] | None = None
    name: str | None = None
    keyword: str | None = None
    zone_id: int | None = None
    hypervisor: str | None = None
    is_ready: bool | None = None
    is_public: bool | None = None
    bootable: bool | None = None
    template_type: str | None = None
    os_category_id: int | None = None
    store_id: int | None = None
    show_removed: bool = False
    show_unique: bool = False
    tags: list[dict[str, str]] | None = None  # tags[i].key/value


def list_templates(session: Session, caller: Caller, f: ListFilter, offset: int,
                   limit: int | None) -> tuple[list[tuple[Template, TemplateStoreRef | None]], int]:
    """One row per template per zone (per image-store copy), visible to ``caller`` under ``f.filter``."""
    if f.filter == "all" and not caller.is_root_admin:
        raise InvalidParameter("Filter all can be specified by admin only")
    owned = f.scope.where(Template.account_id, Template.domain_id)
    shared_accounts = f.scope.account_ids or (caller.account_id,)
    shared = Template.id.in_(select(LaunchPermission.template_id)
                             .where(LaunchPermission.account_id.in_(shared_accounts)))
    public = Template.is_public.is_(True)
    ready_only = f.filter in ("featured", "selfexecutable", "sharedexecutable", "community") or \
        (f.filter == "executable" and f.account_specific)
    visibility = {
        "featured": and_(public, Template.featured.is_(True)),
        "self": owned,
        "selfexecutable": owned,
        "shared": shared,
        "sharedexecutable": shared,
        "executable": or_(owned, public, shared),
        "community": and_(public, Template.featured.is_(False)),
        "all": owned if f.explicit_owner else true(),
    }[f.filter]
    query = (select(Template, TemplateStoreRef)
             .outerjoin(TemplateStoreRef, TemplateStoreRef.template_id == Template.id)
             .where(visibility, (Template.format == "ISO") if f.iso else (Template.format != "ISO")))
    if not f.show_removed:
        query = query.where(Template.removed.is_(None), TemplateStoreRef.id.is_not(None))
    if ready_only or f.is_ready:
        query = query.where(TemplateStoreRef.download_state == DownloadState.DOWNLOADED)
    if f.template_id is not None:
        query = query.where(Template.id == f.template_id)
    if f.template_ids:
        query = query.where(Template.id.in_(f.template_ids))
    if f.name is not None:
        query = query.where(Template.name == f.name)
    if f.keyword:
        query = query.where(or_(Template.name.like(f"%{f.keyword}%"), Template.display_text.like(f"%{f.keyword}%")))
    if f.zone_id is not None:
        query = query.where(TemplateStoreRef.zone_id == f.zone_id)
    if f.store_id is not None:
        query = query.where(TemplateStoreRef.store_id == f.store_id)
    if f.hypervisor and not f.iso:
        query = query.where(Template.hypervisor == f.hypervisor)
    if f.is_public is not None:
        query = query.where(Template.is_public.is_(f.is_public))
    if f.bootable is not None:
        query = query.where(Template.bootable.is_(f.bootable))
    if f.template_type:
        query = query.where(Template.type == f.template_type.upper())
    if f.os_category_id is not None:
        query = query.where(Template.guest_os_id.in_(select(GuestOs.id).where(
            GuestOs.category_id == f.os_category_id)))
    query = tag_service.filtered(query, "ISO" if f.iso else "Template", Template.id, f.tags or [])
    if not caller.is_root_admin:  # system templates are for the system
        query = query.where(Template.type != "SYSTEM")
    query = query.order_by(Template.sort_key, Template.id, TemplateStoreRef.zone_id, TemplateStoreRef.id)
    rows = [(t, r) for t, r in session.execute(query).all()]
    if f.show_unique:
        seen: set[int] = set()
        rows = [row for row in rows if not (row[0].id in seen or seen.add(row[0].id))]
    else:  # one row per template per zone
        seen_pairs: set[tuple[int, int | None]] = set()
        rows = [row for row in rows if not ((row[0].id, row[1].zone_id if row[1] else None) in seen_pairs
                                            or seen_pairs.add((row[0].id, row[1].zone_id if row[1] else None)))]
    total = len(rows)
    return rows[offset: offset + limit if limit is not None else None], total
