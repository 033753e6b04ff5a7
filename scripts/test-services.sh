#!/usr/bin/env bash
# Makes sure the services the tests need are installed and running on 127.0.0.1:
# MariaDB on 3306 (root, empty password over TCP) and Redis on 6379; and libvirt with QEMU plus what
# the tests need to build a tiny bootable guest (Debian's kernel, busybox, syslinux on a FAT image).
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server mariadb-client)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v libvirtd >/dev/null 2>&1 || missing+=(libvirt-daemon-system libvirt-dev pkg-config)
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
[ -x /bin/busybox ] || missing+=(busybox-static)
ls /boot/vmlinuz-* >/dev/null 2>&1 || missing+=(linux-image-amd64)
command -v syslinux >/dev/null 2>&1 || missing+=(syslinux syslinux-common)
[ -f /usr/lib/ISOLINUX/isolinux.bin ] || missing+=(isolinux)
command -v mcopy >/dev/null 2>&1 || missing+=(mtools)
command -v mkfs.vfat >/dev/null 2>&1 || missing+=(dosfstools)
command -v cpio >/dev/null 2>&1 || missing+=(cpio)
command -v nft >/dev/null 2>&1 || missing+=(nftables)  # static NAT tests (in network namespaces)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v ping >/dev/null 2>&1 || missing+=(iputils-ping)
if [ ${#missing[@]} -gt 0 ]; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 3306; then
    as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    for _ in $(seq 60); do port_open 3306 && break; sleep 0.5; done
fi
if ! mariadb -h127.0.0.1 -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    # A fresh Debian MariaDB lets root in only over the socket: allow the empty password over TCP too.
    as_root mariadb -uroot -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')"
fi
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 40); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.25; done
fi
pgrep -x virtlogd >/dev/null || as_root virtlogd -d
pgrep -x libvirtd >/dev/null || as_root libvirtd -d
for _ in $(seq 40); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.25; done
mariadb -h127.0.0.1 -uroot -e 'SELECT 1' >/dev/null
redis-cli -h 127.0.0.1 ping >/dev/null
virsh -c qemu:///system version >/dev/null
# Security groups filter bridged guest traffic in the inet family: br_netfilter with bridge-nf-call-iptables=1,
# as on a CloudStack KVM host (the agent tests check it and fail without it).
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || as_root modprobe br_netfilter 2>/dev/null || true
if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] && [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" != 1 ]; then
    echo 1 | as_root tee /proc/sys/net/bridge/bridge-nf-call-iptables >/dev/null
fi
