"""The libvirt connection of one host: opened lazily, reopened when libvirtd restarts."""

from __future__ import annotations

import threading

import libvirt

from agent.hypervisor.base import HypervisorError


class Host:
    def __init__(self, uri: str, domain_type: str = "auto") -> None:
        self.uri = uri
        self.forced_type = domain_type
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.Lock()

    @property
    def conn(self) -> libvirt.virConnect:
        with self._lock:
            if self._conn is not None:
                try:
                    if self._conn.isAlive():
                        return self._conn
                except libvirt.libvirtError:
                    pass
            try:
                self._conn = libvirt.open(self.uri)
            except libvirt.libvirtError as error:
                raise HypervisorError(f"cannot connect to libvirt at {self.uri}: {error}") from None
            return self._conn

    def domain_type(self) -> str:
        """'kvm' where the host can accelerate, else 'qemu' (software emulation).

        ``auto`` trusts libvirt's capabilities; where /dev/kvm exists but does not work (some nested
        setups fail with "KVM internal error" at boot), configure ``qemu`` explicitly."""
        if self.uri.startswith("test:"):
            return "test"
        if self.forced_type in ("kvm", "qemu"):
            return self.forced_type
        caps = self.conn.getCapabilities()
        return "kvm" if "<domain type='kvm'" in caps else "qemu"

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except libvirt.libvirtError:
                    pass
                self._conn = None
