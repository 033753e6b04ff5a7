"""Recurring snapshot policies: CloudStack's schedule formats evaluated in the policy's time zone, the
periodic task that takes the snapshots that are due, and the removal of the oldest beyond ``maxsnaps``.

Schedules (as CloudStack's DateUtil): HOURLY ``MM``; DAILY ``MM:HH``; WEEKLY ``MM:HH:DD`` with DD the day of
the week, 1 = Sunday .. 7 = Saturday; MONTHLY ``MM:HH:DD`` with DD the day of the month, 1..28. Times are wall
clock times in ``timezone``: across a DST change a daily 02:30 in a skipped hour runs at 03:30 (read with the
offset before the change, as Java's lenient Calendar does), and in a repeated hour once (the first occurrence);
hourly policies run every real hour at local minute MM, so both repeated hours get one.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from management.compute.vm_models import Volume
from management.config import service as config
from management.context import Caller, system_caller
from management.db import db, utcnow
from management.errors import InvalidParameter
from management.events import service as events
from management.iam.access import Scope, check_account_access
from management.iam.models import Account
from management.jobs.periodic import periodic
from management.storage.snapshot_models import INTERVALS, Snapshot, SnapshotPolicy, SnapshotState

log = logging.getLogger(__name__)
TICK_SECONDS = 5.0
_last_run = 0.0


# --- schedules ----------------------------------------------------------------------------------------------

def interval_of(value: str | int) -> int:
    text = str(value).strip().upper()
    if text.isdigit() and int(text) < len(INTERVALS):
        return int(text)
    if text in INTERVALS:
        return INTERVALS.index(text)
    raise InvalidParameter(f"Unsupported interval type {value}: use HOURLY, DAILY, WEEKLY or MONTHLY (intervaltype)")


def zone_of(name: str) -> ZoneInfo:
    try:
        if not name or name.strip() != name or name not in _zone_names():
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidParameter(f"Unknown time zone {name!r} (timezone)") from None


_ZONES: set[str] | None = None


def _zone_names() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC", "GMT"}
    return _ZONES


def parse_schedule(interval: int, schedule: str) -> tuple[int, int, int]:
    """(minute, hour, day) of a schedule; 431 naming ``schedule`` when it does not fit its interval type."""
    parts = (schedule or "").strip().split(":")
    wanted = {0: 1, 1: 2, 2: 3, 3: 3}[interval]
    bad = InvalidParameter(f"Invalid schedule {schedule!r} for a {INTERVALS[interval]} policy: expected "
                           + {0: "MM", 1: "MM:HH", 2: "MM:HH:DD (DD 1-7, 1 = Sunday)",
                              3: "MM:HH:DD (DD 1-28)"}[interval] + " (schedule)")
    if len(parts) != wanted or not all(p.isdigit() for p in parts):
        raise bad
    minute = int(parts[0])
    hour = int(parts[1]) if wanted > 1 else 0
    day = int(parts[2]) if wanted > 2 else 0
    if minute > 59 or hour > 23 or (interval == 2 and not 1 <= day <= 7) or (interval == 3 and not 1 <= day <= 28):
        raise bad
    return minute, hour, day


def _at(tz: ZoneInfo, day, hour: int, minute: int) -> datetime:
    """The UTC instant of a local wall-clock time. A time skipped by DST is read with the offset before the
    change (02:30 in a skipped 02:00-03:00 hour runs at 03:30), a repeated time at its first occurrence."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(timezone.utc)


def next_run(interval: int, schedule: str, tz_name: str, after: datetime) -> datetime:
    """The first scheduled instant strictly after ``after`` (aware UTC), as an aware UTC datetime."""
    minute, hour, day = parse_schedule(interval, schedule)
    tz = zone_of(tz_name)
    local = after.astimezone(tz)
    if interval == 0:  # every hour at local minute MM: walk the minutes (zones with 30/45-minute offsets, DST)
        start = after.replace(second=0, microsecond=0)
        for step in range(1, 180):
            candidate = start + timedelta(minutes=step)
            if candidate.astimezone(tz).minute == minute:
                return candidate
    elif interval in (1, 2):
        for step in range(0, 9):
            date = local.date() + timedelta(days=step)
            if interval == 2 and (date.isoweekday() % 7) + 1 != day:  # isoweekday: Monday 1 .. Sunday 7
                continue
            candidate = _at(tz, date, hour, minute)
            if candidate > after:
                return candidate
    else:
        year, month = local.year, local.month
        for _ in range(0, 14):
            candidate = _at(tz, datetime(year, month, day).date(), hour, minute)
            if candidate > after:
                return candidate
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise InvalidParameter(f"Schedule {schedule!r} never comes (schedule)")


# --- policies -----------------------------------------------------------------------------------------------

def _volume_access(session: Session, caller: Caller, volume: Volume) -> None:
    if volume.removed is not None or volume.state in ("Destroy", "Expunging", "Expunged"):
        raise InvalidParameter(f"Unable to find a volume with the specified id (volumeid={volume.uuid})")
    check_account_access(session, caller, session.get(Account, volume.account_id))


def create_policy(session: Session, caller: Caller, *, volume: Volume, interval_type: str, schedule: str,
                  tz_name: str, max_snaps: int, display: bool | None) -> SnapshotPolicy:
    """A policy for the volume; as in CloudStack, a second policy of the same interval type replaces the first."""
    _volume_access(session, caller, volume)
    if volume.volume_type not in ("ROOT", "DATADISK"):
        raise InvalidParameter(f"Volume {volume.uuid} is of type {volume.volume_type}: no snapshot policy (volumeid)")
    interval = interval_of(interval_type)
    parse_schedule(interval, schedule)
    zone_of(tz_name)
    allowed = config.get_int(session, f"snapshot.max.{INTERVALS[interval].lower()}")
    if allowed <= 0:
        raise InvalidParameter(f"{INTERVALS[interval]} snapshots are disabled (snapshot.max."
                               f"{INTERVALS[interval].lower()} is {allowed}) (intervaltype)")
    if max_snaps is None or max_snaps <= 0:
        raise InvalidParameter("maxSnaps should be greater than 0 (maxsnaps)")
    if max_snaps > allowed:
        raise InvalidParameter(f"maxSnaps exceeds limit: {allowed} for interval type: {INTERVALS[interval]} "
                               "(maxsnaps)")
    nxt = next_run(interval, schedule, tz_name, utcnow())
    policy = session.scalar(select(SnapshotPolicy).where(SnapshotPolicy.volume_id == volume.id,
                                                         SnapshotPolicy.interval == interval,
                                                         SnapshotPolicy.active.is_(True)))
    if policy is None:
        policy = SnapshotPolicy(volume_id=volume.id, interval=interval)
        session.add(policy)
    policy.schedule, policy.timezone, policy.max_snaps, policy.next_run = schedule.strip(), tz_name, max_snaps, nxt
    if display is not None:
        policy.display = display
    session.flush()
    _event(session, caller, volume, "SNAPSHOTPOLICY.CREATE", f"Snapshot policy {policy.uuid} for volume "
                                                             f"{volume.uuid}: {INTERVALS[interval]} {schedule}")
    return policy


def _event(session: Session, caller: Caller, volume: Volume, type_: str, text: str) -> None:
    events.record(session, caller, type_, text, resource_type="SnapshotPolicy", account_id=volume.account_id,
                  domain_id=volume.domain_id)


def check_policy_access(session: Session, caller: Caller, policy: SnapshotPolicy) -> Volume:
    volume = session.get(Volume, policy.volume_id)
    if not policy.active or volume is None:
        raise InvalidParameter(f"Unable to find a snapshot policy with the specified id (id={policy.uuid})")
    check_account_access(session, caller, session.get(Account, volume.account_id))
    return volume


def update_policy(session: Session, caller: Caller, policy: SnapshotPolicy, *, display: bool | None) -> SnapshotPolicy:
    volume = check_policy_access(session, caller, policy)
    if display is not None:
        policy.display = display
    session.flush()
    _event(session, caller, volume, "SNAPSHOTPOLICY.UPDATE", f"Updated snapshot policy {policy.uuid}")
    return policy


def delete_policies(session: Session, caller: Caller, policies: list[SnapshotPolicy]) -> None:
    if not policies:
        raise InvalidParameter("Either id or ids parameter is required (id)")
    for policy in policies:
        check_policy_access(session, caller, policy)
    for policy in policies:
        volume = session.get(Volume, policy.volume_id)
        policy.active, policy.next_run = False, None
        _event(session, caller, volume, "SNAPSHOTPOLICY.DELETE", f"Deleted snapshot policy {policy.uuid}")
    session.flush()


def list_policies(session: Session, scope: Scope, *, policy_id: int | None, volume_id: int | None,
                  display: bool | None, offset: int, limit: int | None) -> tuple[list[SnapshotPolicy], int]:
    from management.pagination import page

    query = (select(SnapshotPolicy).join(Volume, Volume.id == SnapshotPolicy.volume_id)
             .where(SnapshotPolicy.active.is_(True), Volume.removed.is_(None),
                    scope.where(Volume.account_id, Volume.domain_id)))
    if policy_id is not None:
        query = query.where(SnapshotPolicy.id == policy_id)
    if volume_id is not None:
        query = query.where(SnapshotPolicy.volume_id == volume_id)
    if display is not None:
        query = query.where(SnapshotPolicy.display == display)
    return page(session, query.order_by(SnapshotPolicy.id), offset, limit)


def remove_policies_of(session: Session, volume_id: int) -> None:
    session.execute(update(SnapshotPolicy).where(SnapshotPolicy.volume_id == volume_id)
                    .values(active=False, next_run=None))


# --- the periodic task --------------------------------------------------------------------------------------

@periodic("snapshot.policies", interval=TICK_SECONDS)
def run_policies() -> None:
    """Every ``snapshot.poll.interval`` seconds: a snapshot job for each policy that is due, then the oldest
    recurring snapshots beyond ``maxsnaps`` removed."""
    global _last_run
    with db.session() as session:
        poll = config.get_int(session, "snapshot.poll.interval")
    now_mono = time.monotonic()
    if now_mono - _last_run < max(1, poll):
        return
    _last_run = now_mono
    now = utcnow()
    with db.session() as session:
        due = session.scalars(select(SnapshotPolicy.id).where(SnapshotPolicy.active.is_(True),
                                                             SnapshotPolicy.next_run <= now)).all()
    for policy_id in due:
        try:
            take_scheduled(policy_id, now)
        except Exception:
            log.warning("scheduled snapshot of policy %s failed", policy_id, exc_info=True)
    trim_all()


def take_scheduled(policy_id: int, now: datetime) -> str | None:
    """Advance the policy (compare-and-set: one node takes it) and submit its snapshot job; None if skipped."""
    from management.api.native.registry import registry
    from management.jobs import service as jobs
    from management.storage import snapshots

    with db.session() as session:
        policy = session.get(SnapshotPolicy, policy_id)
        if policy is None or not policy.active or policy.next_run is None or policy.next_run > now:
            return None
        nxt = next_run(policy.interval, policy.schedule, policy.timezone, now)
        moved = session.execute(update(SnapshotPolicy).where(SnapshotPolicy.id == policy.id,
                                                             SnapshotPolicy.next_run <= now)
                                .values(next_run=nxt, last_run=now))
        if moved.rowcount != 1:
            return None
    with db.session() as session:
        policy = session.get(SnapshotPolicy, policy_id)
        volume = session.get(Volume, policy.volume_id)
        if volume is None or volume.removed is not None:
            policy.active = False
            return None
        caller = system_caller()
        try:
            with session.begin_nested():
                snapshot = snapshots.allocate(session, caller, snapshots.SnapshotRequest(volume=volume, policy=policy))
        except Exception as error:
            log.info("scheduled snapshot of volume %s skipped: %s", volume.uuid, getattr(error, "message", error))
            events.record(session, caller, "SNAPSHOT.CREATE", f"Scheduled snapshot of volume {volume.uuid} skipped: "
                          f"{getattr(error, 'message', error)}", level="ERROR", resource_type="Snapshot",
                          account_id=volume.account_id, domain_id=volume.domain_id)
            return None
        api = registry.get("createSnapshot").api
        job = jobs.submit(session, caller, api, {"volumeid": volume.uuid, "policyid": policy.uuid}, instance=snapshot,
                          event_type=api.event)
        return job.uuid


def trim_all() -> None:
    with db.session() as session:
        policies = session.scalars(select(SnapshotPolicy).where(SnapshotPolicy.active.is_(True))).all()
        todo = [(p.volume_id, p.interval, p.max_snaps) for p in policies]
    for volume_id, interval, max_snaps in todo:
        try:
            trim(volume_id, interval, max_snaps)
        except Exception:
            log.warning("removing old snapshots of volume %s failed", volume_id, exc_info=True)


def trim(volume_id: int, interval: int, max_snaps: int) -> int:
    """Delete the oldest BackedUp snapshots of this interval type beyond ``max_snaps``; returns how many."""
    from management.storage import snapshots

    removed = 0
    with db.session() as session:
        rows = session.scalars(select(Snapshot).where(
            Snapshot.volume_id == volume_id, Snapshot.type_description == INTERVALS[interval],
            Snapshot.removed.is_(None), Snapshot.status == SnapshotState.BACKED_UP)
            .order_by(Snapshot.created.desc(), Snapshot.id.desc())).all()
        for snapshot in rows[max_snaps:]:
            snapshots.delete(session, system_caller(), snapshot)
            removed += 1
    return removed
