"""Host firewall programming for the agent (security groups on the guest bridge)."""
