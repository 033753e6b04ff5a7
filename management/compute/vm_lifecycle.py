"""Where other domains plug into a VM's life without the VM code knowing them (volumes, security groups,
static NAT, guest access). Each list holds plain functions, appended once by the domain's ``register``.

In-transaction hooks get the job's session and run inside the step that changes the VM (what they write
commits or rolls back with it). ``AFTER_START``/``AFTER_STOP`` run after that commit, outside any
transaction, and may call agents; an exception there is logged, never fails the VM operation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

# (session, caller, vm, deploy request) — at the end of create_vm, before VM.CREATE is recorded
DEPLOY_HOOKS: list[Callable] = []
# (session, vm, spec: agent.protocol.VmSpec, host | None) — may add disks/CD-ROMs, set NIC bridges, details
SPEC_HOOKS: list[Callable] = []
# (session, vm, host) — in the step that marks the VM Running
STARTED_HOOKS: list[Callable] = []
# (ctx, vm_id, host) — after a start committed: e.g. program the host's rules for the VM
AFTER_START: list[Callable] = []
# (session, vm, host_id | None) — in the step that marks the VM Stopped (a stop, a host going down, a power report)
STOPPED_HOOKS: list[Callable] = []
# (session, vm, target host) -> list of agent.protocol.DiskSpec — before a live migration: what the target must
# be able to open besides the VM's pool (e.g. an ISO on an NFS image store, mounted by PrepareForMigration)
MIGRATE_PREPARE_HOOKS: list[Callable] = []
# (session, vm, source host, target host) — in the step that records a finished migration
MIGRATED_HOOKS: list[Callable] = []
# (session, vm) — in the step that marks the VM expunged (before its NICs are released)
EXPUNGE_HOOKS: list[Callable] = []
# (session, vm, action: str) — before an operation that changes the VM's disks or starts it; raises to refuse
# (e.g. "start", "attach a volume": VM snapshots in progress, or disks that VM snapshots pin)
BUSY_CHECKS: list[Callable] = []


def add(hooks: list[Callable], fn: Callable) -> None:
    if fn not in hooks:
        hooks.append(fn)


def run(hooks: list[Callable], *args) -> None:
    """In-transaction hooks: an exception propagates (the step rolls back)."""
    for hook in hooks:
        hook(*args)


def run_after(hooks: list[Callable], *args) -> None:
    """After-commit hooks: an exception is logged and swallowed (the VM operation has already happened)."""
    for hook in hooks:
        try:
            hook(*args)
        except Exception:
            log.warning("VM hook %s failed", getattr(hook, "__qualname__", hook), exc_info=True)
