"""Host NAT programming of the KVM agent (static NAT with nftables)."""
