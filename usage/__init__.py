"""The usage server: turns usage events into usage records (cloud_usage database)."""
