"""The gratuitous ARP frame static NAT sends when a public IP lands on a host."""

from agent.nat.garp import frame


def test_gratuitous_arp_request_layout():
    mac = bytes.fromhex("525400123456")
    packet = frame(mac, "203.0.113.50")
    assert len(packet) == 42
    assert packet[:6] == b"\xff" * 6 and packet[6:12] == mac and packet[12:14] == b"\x08\x06"
    arp = packet[14:]
    assert arp[:8] == bytes.fromhex("0001080006040001")  # Ethernet, IPv4, 6/4 bytes, request
    assert arp[8:14] == mac and arp[14:18] == bytes([203, 0, 113, 50])  # sender: us, the public IP
    assert arp[18:24] == b"\x00" * 6 and arp[24:28] == bytes([203, 0, 113, 50])  # target: the same IP
