"""The ``secondary_storage`` resource count of an account: what its files on image stores take.

Counted, in bytes: each live snapshot's backup (the size of its volume, reserved when the snapshot is
requested), and each copy of the account's templates and ISOs on an image store (``template_store_ref
.physical_size``: reserved with an estimate when a createTemplate or copyTemplate starts and set to the real
size when the file is complete; for a download, counted when it completes, which fails with 535 if the
account has no room left), and each uploaded volume's copy on its image store (``volumes.upload_size``,
counted when the upload completes, with the same 535, and until the volume is deleted: the copy stays on the
store as long as the volume lives). Deleting the copy gives the bytes back. CloudStack counts the same things.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from management.compute.vm_models import Volume
from management.limits import service as limits
from management.storage.models import Template, TemplateStoreRef

RESOURCE = "secondary_storage"


def charge(session: Session, account_id: int, amount: int) -> None:
    """Count ``amount`` more bytes for the account (535 over its or its domains' limit)."""
    if amount > 0:
        limits.reserve(session, account_id=account_id, resource=RESOURCE, amount=int(amount))


def refund(session: Session, account_id: int, amount: int | None) -> None:
    if amount and amount > 0:
        limits.release(session, account_id=account_id, resource=RESOURCE, amount=int(amount))


def recharge(session: Session, account_id: int, old: int | None, new: int | None) -> None:
    """An estimate ``old`` becomes the real ``new``: only the difference is charged or refunded."""
    old, new = int(old or 0), int(new or 0)
    if new > old:
        charge(session, account_id, new - old)
    else:
        refund(session, account_id, old - new)


def template_bytes(session: Session, account_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(TemplateStoreRef.physical_size), 0))
                              .join(Template, Template.id == TemplateStoreRef.template_id)
                              .where(Template.account_id == account_id, Template.removed.is_(None))) or 0)


def upload_bytes(session: Session, account_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(Volume.upload_size), 0)).where(
        Volume.account_id == account_id, Volume.removed.is_(None))) or 0)


def release_upload(session: Session, volume: Volume) -> None:
    """The volume's uploaded copy is gone (or goes with the volume): its bytes are given back, once."""
    if volume.upload_size:
        refund(session, volume.account_id, volume.upload_size)
        volume.upload_size = None


def count(session: Session, account_id: int) -> int:
    """The recount (updateResourceCount): snapshots, template copies and uploaded volumes."""
    from management.storage.snapshots import count_secondary

    return count_secondary(session, account_id) + template_bytes(session, account_id) + upload_bytes(session,
                                                                                                     account_id)


def register() -> None:
    limits.register_counter(RESOURCE, count)
