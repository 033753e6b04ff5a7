"""Built-in periodic tasks of the jobs domain."""

from __future__ import annotations

from management.jobs import runner
from management.jobs.periodic import periodic


@periodic("jobs.reaper", interval=5.0)
def reap_jobs() -> None:
    runner.reap()
