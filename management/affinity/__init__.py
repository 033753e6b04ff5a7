"""Affinity groups: host anti-affinity and host affinity rules the deployment planner follows."""
