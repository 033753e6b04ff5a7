"""Image stores (secondary storage) as a management node and the agents reach them.

A Local store is a directory of this node. An NFS store is mounted on this node on first use at
``<data dir>/mnt/secondary/<digest of the URL>`` (the node needs the NFS client and the right to mount, as
CloudStack's management server has for its system VM templates; an export the admin already mounted there
is used as it is); downloads, copies, extracts, deletions, cleanup and capacity then work on that directory
as for a Local store. Agents are given a file's path relative to the store plus the store's URL and mount
the export themselves at ``/mnt/secondary/<the same digest>`` (``agent.hypervisor.pools.resolve``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

from agent.hypervisor import pools
from agent.hypervisor.errors import HypervisorError
from management.errors import ResourceUnavailable
from management.storage.models import ImageStore

log = logging.getLogger(__name__)
RUN = subprocess.run  # the process runner for mount (a unit test may stand in a bind mount for NFS)
_lock = threading.Lock()


def is_local(store: ImageStore) -> bool:
    return store.provider == "Local" or store.protocol == "file"


def mount_root(data_dir: Path | None = None) -> Path:
    from management.settings import get_settings

    return Path(data_dir or get_settings().data_dir) / "mnt" / "secondary"


def local_root(store: ImageStore, data_dir: Path | None = None) -> Path:
    """The store's root directory on this node (an NFS store is mounted first)."""
    if is_local(store):
        return Path(store.path or "")
    parsed = urlparse(store.url or "")
    if parsed.scheme.lower() != "nfs" or not parsed.hostname or not parsed.path:
        raise ResourceUnavailable(f"Image store {store.name} has an unusable URL {store.url}")
    target = mount_root(data_dir) / pools.store_dir_name(store.url)
    with _lock:
        try:
            pools.prepare(pools.NFS, parsed.hostname, parsed.path.rstrip("/") or "/", str(target), run=RUN)
        except HypervisorError as error:
            raise ResourceUnavailable(f"Image store {store.name} is not reachable from this management node: "
                                      f"{error}") from None
    return target


def node_path(store: ImageStore, relative: str | None, data_dir: Path | None = None) -> Path:
    """A file of the store on this node (an NFS store is mounted first); refuses paths leaving the store."""
    root = local_root(store, data_dir)
    relative = (relative or "").lstrip("/")
    if ".." in relative.split("/"):
        raise ResourceUnavailable(f"{relative} is not a path inside image store {store.name}")
    return root / relative if relative else root


def mounted_root(store: ImageStore, data_dir: Path | None = None) -> Path | None:
    """The store's root on this node if it is there without mounting anything (None for an NFS store not
    mounted here): for listings and measurements, which must not hang on an unreachable server."""
    if is_local(store):
        return Path(store.path or "")
    target = mount_root(data_dir) / pools.store_dir_name(store.url or "")
    return target if pools.is_mounted(str(target)) else None


def agent_source(store: ImageStore, relative: str) -> tuple[str, str | None]:
    """(path, store URL) an agent reads ``relative`` of the store from: an absolute path for a Local store;
    the relative path and the store's nfs:// URL (which the agent mounts) for an NFS store."""
    if is_local(store):
        return os.path.join(store.path or "", relative or ""), None
    return relative, store.url


def release(store: ImageStore, data_dir: Path | None = None) -> None:
    """Unmount this node's mount of a deleted NFS store (best effort)."""
    target = mount_root(data_dir) / pools.store_dir_name(store.url or "")
    try:
        pools.release(pools.NFS, str(target), run=RUN)
    except HypervisorError:
        log.warning("could not unmount %s", target, exc_info=True)


def release_all(data_dir: Path | None = None) -> None:
    """Unmount every store this node mounted (at shutdown)."""
    root = mount_root(data_dir)
    if not root.is_dir():
        return
    for child in root.iterdir():
        try:
            pools.release(pools.NFS, str(child), run=RUN)
        except HypervisorError:
            log.warning("could not unmount %s", child, exc_info=True)
