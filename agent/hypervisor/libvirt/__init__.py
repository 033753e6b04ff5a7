"""The libvirt driver (KVM/QEMU): host.py connection, domain_xml.py definitions, guest and storage helpers."""
