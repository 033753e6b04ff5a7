"""Hypervisor drivers: one interface, a libvirt driver and a pure-Python simulator."""
