"""A second libvirt host on this machine, for live migration between two real hosts.

A network namespace gets one end of a veth pair (the other end stays here), and a libvirtd of its own runs
inside it, in a private mount namespace with its own /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and
/etc/libvirt (another host UUID, listening on TCP at its address without auth, QEMU's migration stream on
the same address). Everything — namespace, veth, daemon, folders — is created here and removed by
``close``; nothing else on the machine is touched. Disk images on a shared path are reachable from both
daemons, like a SharedMountPoint pool between two hosts."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import libvirt


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


class LibvirtPeer:
    def __init__(self, workdir: Path) -> None:
        tag = uuid.uuid4().hex[:6]
        octet = random.randint(16, 250)
        self.ns, self.veth_here, self.veth_there = f"csmig{tag}", f"csm{tag}a", f"csm{tag}b"
        self.local_ip, self.ip = f"10.254.{octet}.1", f"10.254.{octet}.2"
        self.uri = f"qemu+tcp://{self.ip}/system"
        self.dir = workdir
        self.pidfile = workdir / "libvirtd.pid"

    def start(self) -> LibvirtPeer:
        etc = self.dir / "etc" / "libvirt"
        for sub in ("lib", "cache"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        shutil.copytree("/etc/libvirt", etc, dirs_exist_ok=True)
        (etc / "libvirtd.conf").write_text(
            'listen_tcp = 1\nlisten_tls = 0\nauth_tcp = "none"\n'
            f'listen_addr = "{self.ip}"\nhost_uuid = "{uuid.uuid4()}"\n')
        (etc / "qemu.conf").write_text(
            f'stdio_handler = "file"\nmigration_address = "{self.ip}"\nmigration_host = "{self.ip}"\n')
        _run("ip", "netns", "add", self.ns)
        _run("ip", "link", "add", self.veth_here, "type", "veth", "peer", "name", self.veth_there)
        _run("ip", "link", "set", self.veth_there, "netns", self.ns)
        _run("ip", "addr", "add", f"{self.local_ip}/30", "dev", self.veth_here)
        _run("ip", "link", "set", self.veth_here, "up")
        _run("ip", "netns", "exec", self.ns, "ip", "addr", "add", f"{self.ip}/30", "dev", self.veth_there)
        _run("ip", "netns", "exec", self.ns, "ip", "link", "set", self.veth_there, "up")
        _run("ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up")
        _run("ip", "netns", "exec", self.ns, "sh", "-c",
             f"mount -t tmpfs tmpfs /run/libvirt && mount --bind {etc} /etc/libvirt && "
             f"mount --bind {self.dir / 'lib'} /var/lib/libvirt && mount --bind {self.dir / 'cache'} "
             f"/var/cache/libvirt && exec libvirtd --listen -d -p {self.pidfile}")
        deadline = time.monotonic() + 30
        while True:
            try:
                libvirt.open(self.uri).close()
                return self
            except libvirt.libvirtError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def domains(self) -> set[str]:
        conn = libvirt.open(self.uri)
        try:
            return {d.name() for d in conn.listAllDomains() if d.isActive()}
        finally:
            conn.close()

    def close(self) -> None:
        try:
            conn = libvirt.open(self.uri)
            for domain in conn.listAllDomains():
                if domain.isActive():
                    domain.destroy()
            conn.close()
        except libvirt.libvirtError:
            pass
        try:
            os.kill(int(self.pidfile.read_text().strip()), signal.SIGTERM)
            time.sleep(1.0)
        except (OSError, ValueError):
            pass
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.veth_here], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
