"""Resource limits and counts per account and domain (CloudStack's resource_limit / resource_count)."""
