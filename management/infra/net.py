"""IPv4 checks shared by pods and IP ranges; every failure is a 431 naming the parameter."""

from __future__ import annotations

import ipaddress

from management.errors import InvalidParameter

MAX_RANGE_ADDRESSES = 65536


def ip(param: str, value: str | None) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address((value or "").strip())
    except ValueError:
        raise InvalidParameter(f"Invalid parameter {param} value={value}: not a valid IPv4 address") from None


def netmask(param: str, value: str | None) -> int:
    """The prefix length of a dotted netmask (255.255.255.0 -> 24)."""
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{(value or '').strip()}").prefixlen
    except ValueError:
        raise InvalidParameter(f"Invalid parameter {param} value={value}: not a valid IPv4 netmask") from None


def cidr(param: str, value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value.strip(), strict=True)
    except ValueError:
        raise InvalidParameter(f"Invalid parameter {param} value={value}: not a valid IPv4 CIDR") from None


def network_of(gateway: str, mask: str) -> ipaddress.IPv4Network:
    """The network a gateway/netmask pair describes (both validated)."""
    gw = ip("gateway", gateway)
    return ipaddress.IPv4Network(f"{gw}/{netmask('netmask', mask)}", strict=False)


def check_range(*, gateway: str | None, mask: str | None, start: str | None, end: str | None,
                what: str = "range") -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """Validate gateway/netmask/start/end: syntax, start <= end, both ends in the gateway's network."""
    for name, value in (("gateway", gateway), ("netmask", mask), ("startip", start)):
        if not value:
            raise InvalidParameter(f"Unable to create the {what}: parameter {name} is required")
    net = network_of(gateway, mask)
    first = ip("startip", start)
    last = ip("endip", end) if end else first
    for name, address in (("startip", first), ("endip", last)):
        if address not in net:
            raise InvalidParameter(f"Invalid parameter {name} value={address}: not in the network {net} of "
                                   f"gateway {gateway} and netmask {mask}")
    if first > last:
        raise InvalidParameter(f"Invalid parameter endip value={end}: the start IP {first} is after the end IP")
    if net.prefixlen < 31 and (first == net.network_address or last == net.broadcast_address):
        raise InvalidParameter(f"Invalid {what} {first}-{last}: it includes the network or broadcast address of {net}")
    if first <= ip("gateway", gateway) <= last:
        raise InvalidParameter(f"Invalid parameter gateway value={gateway}: the gateway is inside the {what} "
                               f"{first}-{last}")
    return net, first, last


def size(first: str, last: str) -> int:
    return int(ipaddress.IPv4Address(last)) - int(ipaddress.IPv4Address(first)) + 1


def overlaps(a_first: str, a_last: str, b_first: str, b_last: str) -> bool:
    a0, a1 = int(ipaddress.IPv4Address(a_first)), int(ipaddress.IPv4Address(a_last))
    b0, b1 = int(ipaddress.IPv4Address(b_first)), int(ipaddress.IPv4Address(b_last))
    return a0 <= b1 and b0 <= a1


def contains(first: str | None, last: str | None, address: str | None) -> bool:
    if not (first and last and address):
        return False
    try:
        return int(ipaddress.IPv4Address(first)) <= int(ipaddress.IPv4Address(address)) <= int(
            ipaddress.IPv4Address(last))
    except ValueError:
        return False


def mask_of(prefix: int) -> str:
    return str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)
