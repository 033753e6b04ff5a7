"""Snapshot policy schedules: CloudStack's formats, evaluated in the policy's time zone, across DST."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from management.errors import InvalidParameter
from management.storage.snapshot_policies import interval_of, next_run, parse_schedule, zone_of

UTC = timezone.utc
HOURLY, DAILY, WEEKLY, MONTHLY = 0, 1, 2, 3


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_intervals_and_formats():
    assert [interval_of(x) for x in ("hourly", "DAILY", "2", "Monthly")] == [0, 1, 2, 3]
    assert parse_schedule(HOURLY, "05") == (5, 0, 0)
    assert parse_schedule(DAILY, "30:14") == (30, 14, 0)
    assert parse_schedule(WEEKLY, "00:01:7") == (0, 1, 7)
    assert parse_schedule(MONTHLY, "15:03:28") == (15, 3, 28)
    for interval, bad in ((HOURLY, "60"), (HOURLY, "5:1"), (DAILY, "10"), (DAILY, "10:24"), (WEEKLY, "0:0:8"),
                          (WEEKLY, "0:0:0"), (MONTHLY, "0:0:29"), (DAILY, "a:b"), (DAILY, "-1:3"), (HOURLY, "")):
        with pytest.raises(InvalidParameter, match=r"\(schedule\)"):
            parse_schedule(interval, bad)
    with pytest.raises(InvalidParameter, match="intervaltype"):
        interval_of("yearly")
    with pytest.raises(InvalidParameter, match="timezone"):
        zone_of("Mars/Olympus")
    assert zone_of("Europe/Paris").key == "Europe/Paris"


def test_hourly_daily_in_utc():
    now = utc(2026, 3, 10, 10, 20, 0)
    assert next_run(HOURLY, "30", "UTC", now) == utc(2026, 3, 10, 10, 30)
    assert next_run(HOURLY, "20", "UTC", now) == utc(2026, 3, 10, 11, 20)  # strictly after
    assert next_run(DAILY, "00:09", "UTC", now) == utc(2026, 3, 11, 9, 0)
    assert next_run(DAILY, "45:10", "UTC", now) == utc(2026, 3, 10, 10, 45)


def test_time_zones_with_odd_offsets():
    now = utc(2026, 1, 5, 10, 0, 0)  # 15:30 in Kolkata (UTC+5:30)
    assert next_run(HOURLY, "00", "Asia/Kolkata", now) == utc(2026, 1, 5, 10, 30)
    assert next_run(DAILY, "00:08", "Asia/Kolkata", now) == utc(2026, 1, 6, 2, 30)  # 08:00 IST
    assert next_run(DAILY, "00:08", "America/New_York", now) == utc(2026, 1, 5, 13, 0)  # 08:00 EST


def test_weekly_and_monthly():
    now = utc(2026, 11, 22, 5, 0)  # a Sunday
    assert next_run(WEEKLY, "00:06:1", "UTC", now) == utc(2026, 11, 22, 6, 0)  # 1 = Sunday, later today
    assert next_run(WEEKLY, "00:04:1", "UTC", now) == utc(2026, 11, 29, 4, 0)  # passed today: next week
    assert next_run(WEEKLY, "00:04:2", "UTC", now) == utc(2026, 11, 23, 4, 0)  # Monday
    assert next_run(MONTHLY, "00:04:22", "UTC", now) == utc(2026, 12, 22, 4, 0)
    assert next_run(MONTHLY, "30:23:28", "UTC", utc(2026, 12, 28, 23, 31)) == utc(2027, 1, 28, 23, 30)
    # Local Monday 01:00 in Tokyo is still Sunday in UTC.
    assert next_run(WEEKLY, "00:01:2", "Asia/Tokyo", now) == utc(2026, 11, 22, 16, 0)


def test_daylight_saving_changes():
    paris = "Europe/Paris"
    # Spring forward on 2026-03-29: 02:00 CET -> 03:00 CEST. Daily 01:30 before, 02:30 (skipped), 03:30 after.
    before = utc(2026, 3, 28, 12, 0)
    assert next_run(DAILY, "30:01", paris, before) == utc(2026, 3, 29, 0, 30)  # 01:30 CET
    assert next_run(DAILY, "30:03", paris, before) == utc(2026, 3, 29, 1, 30)  # 03:30 CEST
    assert next_run(DAILY, "30:02", paris, before) == utc(2026, 3, 29, 1, 30)  # skipped: read as 03:30 CEST
    assert next_run(DAILY, "00:09", paris, utc(2026, 3, 29, 12, 0)) == utc(2026, 3, 30, 7, 0)  # 09:00 CEST
    # Fall back on 2026-10-25: 03:00 CEST -> 02:00 CET; 02:30 happens twice, the policy runs at the first.
    assert next_run(DAILY, "30:02", paris, utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 25, 0, 30)
    assert next_run(DAILY, "30:02", paris, utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 26, 1, 30)
    # Hourly across the fall back: every real hour at minute 15, the repeated hour included.
    start = utc(2026, 10, 24, 23, 20)
    runs = []
    for _ in range(4):
        start = next_run(HOURLY, "15", paris, start)
        runs.append(start)
    assert runs == [utc(2026, 10, 25, 0, 15), utc(2026, 10, 25, 1, 15), utc(2026, 10, 25, 2, 15),
                    utc(2026, 10, 25, 3, 15)]
    # A daily run stays at 09:00 local time on both sides of the change.
    assert next_run(DAILY, "00:09", "America/New_York", utc(2026, 3, 7, 15, 0)) == utc(2026, 3, 8, 13, 0)
    assert next_run(DAILY, "00:09", "America/New_York", utc(2026, 3, 6, 15, 0)) == utc(2026, 3, 7, 14, 0)
