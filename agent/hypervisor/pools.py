"""Primary storage pools on a host, as CloudStack's KVM agent has them: an NFS export is mounted at the
local path the management server gives (``/mnt/<pool uuid>``), a shared mount point must already be
mounted there by the admin, a local directory is created; each is then measured (capacity, used bytes).

``run`` is the process runner (``subprocess.run``); a unit test may pass a fake one."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from urllib.parse import urlparse

from agent.hypervisor.errors import HypervisorError

NFS = "NetworkFilesystem"


def is_mounted(local_path: str) -> bool:
    target = os.path.realpath(local_path)
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            return any(line.split()[1] == target for line in mounts if len(line.split()) > 1)
    except OSError:
        return False


def measure(local_path: str) -> tuple[int, int]:
    try:
        usage = shutil.disk_usage(local_path)
    except OSError as error:
        raise HypervisorError(f"cannot measure storage pool at {local_path}: {error}") from None
    return usage.total, usage.total - usage.free


def prepare(pool_type: str, host: str, path: str, local_path: str, run=subprocess.run) -> tuple[int, int]:
    """Make the pool usable at ``local_path`` on this host; returns its (capacity, used) bytes."""
    if pool_type == NFS:
        os.makedirs(local_path, exist_ok=True)
        if not is_mounted(local_path):
            result = run(["mount", "-t", "nfs", "-o", "nodev,nosuid,soft,timeo=133,retrans=2", f"{host}:{path}",
                          local_path], capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                raise HypervisorError(f"cannot mount NFS export {host}:{path} at {local_path}: "
                                      f"{(result.stderr or result.stdout).strip() or 'mount failed'}")
    elif pool_type == "SharedMountPoint":
        if not os.path.isdir(local_path):
            raise HypervisorError(f"shared mount point {local_path} does not exist on this host")
    elif pool_type == "Filesystem":
        try:
            os.makedirs(local_path, exist_ok=True)
        except OSError as error:
            raise HypervisorError(f"cannot create local storage directory {local_path}: {error}") from None
    else:
        raise HypervisorError(f"storage pool type {pool_type} is not supported by this agent")
    return measure(local_path)


def release(pool_type: str, local_path: str, run=subprocess.run) -> None:
    """Unmount an NFS pool (other pool types are left as they are)."""
    if pool_type == NFS and is_mounted(local_path):
        result = run(["umount", local_path], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise HypervisorError(f"cannot unmount {local_path}: {(result.stderr or result.stdout).strip()}")


# What an interrupted copy onto a pool leaves: ``<volume or template uuid>.part`` or a config drive's
# ``configdrive-<instance>.iso.part`` (agents write through ``.part`` and rename).
PARTIAL = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|configdrive-[\w.-]+\.iso)\.part$")


def remove_stale_partials(local_path: str, older_than: float) -> list[str]:
    """Remove the partial files our agents write on a pool that nobody has written for ``older_than``
    seconds (a copy in progress keeps its file's mtime fresh; one whose agent was killed does not).
    Only top-level files of our own naming are considered: nothing else on a shared mount is touched."""
    removed = []
    cutoff = time.time() - older_than
    try:
        entries = list(os.scandir(local_path))
    except OSError as error:
        raise HypervisorError(f"cannot list storage pool at {local_path}: {error}") from None
    for entry in entries:
        if not PARTIAL.match(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.remove(entry.path)
                removed.append(entry.name)
        except FileNotFoundError:
            continue
    return removed


SECONDARY_ROOT = "/mnt/secondary"


def store_dir_name(store_url: str) -> str:
    """The directory an image store's export is mounted at under a node's secondary root: the same name on
    the management node and on every host (a digest of the URL, so no database id is needed to find it)."""
    return hashlib.sha1(store_url.strip().rstrip("/").encode()).hexdigest()[:16]


def resolve(path: str, store_url: str | None, run=subprocess.run, root: str = SECONDARY_ROOT) -> str:
    """A local path for ``path`` on an image store: as is without ``store_url`` (a Local store the host can
    read), else joined to the store's NFS export mounted at ``<root>/<digest of the URL>``."""
    if not store_url:
        return path
    parsed = urlparse(store_url)
    if parsed.scheme.lower() != "nfs" or not parsed.hostname or not parsed.path:
        raise HypervisorError(f"image store URL {store_url} is not nfs://host/path")
    local = os.path.join(root, store_dir_name(store_url))
    prepare(NFS, parsed.hostname, parsed.path.rstrip("/") or "/", local, run=run)
    relative = path.lstrip("/")
    if ".." in relative.split("/"):
        raise HypervisorError(f"{path} is not a path inside the image store")
    return os.path.join(local, relative)
