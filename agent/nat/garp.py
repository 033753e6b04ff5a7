"""Gratuitous ARP: tell the public segment that this host now answers for an address.

When static NAT puts a public IP on this host (a new rule, or the VM moved here), neighbours may still hold
an old or a failed entry for it and keep sending to the wrong place, or nowhere, until it expires. A
gratuitous ARP request (sender and target address both the public IP) makes every neighbour that has an
entry for the address update it at once, as CloudStack's virtual router does with ``arping -U`` when it
adds a public IP. Sent from a raw packet socket on the device: no extra tool needed.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct

log = logging.getLogger(__name__)
ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6


def frame(mac: bytes, address: str) -> bytes:
    """The Ethernet frame of a gratuitous ARP request for ``address`` from ``mac``."""
    ip = ipaddress.IPv4Address(address).packed
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, ip, b"\x00" * 6, ip)
    return BROADCAST + mac + struct.pack("!H", ETH_P_ARP) + arp


def device_mac(device: str) -> bytes:
    with open(f"/sys/class/net/{device}/address", encoding="ascii") as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def announce(address: str, device: str, count: int = 2) -> bool:
    """Best effort: False (logged) when the frame could not be sent; the address works anyway, neighbours
    just learn it later."""
    try:
        packet = frame(device_mac(device), address)
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
            sock.bind((device, 0))
            for _ in range(count):
                sock.send(packet)
        return True
    except (OSError, ValueError) as error:
        log.warning("gratuitous ARP for %s on %s not sent: %s", address, device, error)
        return False
