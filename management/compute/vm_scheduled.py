"""Periodic VM work: expunging destroyed VMs once ``expunge.delay`` has passed, every ``expunge.interval``."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from management.config import service as config
from management.context import Context, system_caller
from management.db import db, utcnow
from management.jobs.periodic import periodic

log = logging.getLogger(__name__)
TICK_SECONDS = 5.0
_last_run = 0.0


@periodic("vm.expunge", interval=TICK_SECONDS)
def expunge_destroyed() -> None:
    """Runs every few seconds but does its work only every ``expunge.interval`` seconds."""
    global _last_run
    from management.compute import vm_expunge

    with db.session() as session:
        interval = config.get_int(session, "expunge.interval")
        delay = config.get_int(session, "expunge.delay")
    now = time.monotonic()
    if now - _last_run < max(1, interval):
        return
    _last_run = now
    with db.session() as session:
        due = vm_expunge.vms_to_expunge(session, utcnow() - timedelta(seconds=delay))
    for vm_id in due:
        try:
            with db.session() as session:
                vm_expunge.expunge(Context(session=session, caller=system_caller(), command="expunge"), vm_id)
        except Exception:
            log.warning("expunging VM %s failed (will retry)", vm_id, exc_info=True)
