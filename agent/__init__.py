"""The host agent (built in the VM issue): driver interface, libvirt and simulator drivers."""
