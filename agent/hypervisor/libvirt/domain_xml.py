"""Domain XML for a VmSpec, as CloudStack's KVM agent writes it (transient domains, virtio devices)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from agent.protocol import VmSpec


MEMORY_SLOTS = 16  # as CloudStack's KVM agent defines a dynamically scalable VM


def domain_xml(spec: VmSpec, domain_type: str = "kvm", arch: str = "x86_64") -> str:
    root = ET.Element("domain", type=domain_type)
    ET.SubElement(root, "name").text = spec.name
    ET.SubElement(root, "uuid").text = spec.uuid
    ET.SubElement(root, "memory", unit="MiB").text = str(spec.memory_mb)
    ET.SubElement(root, "currentMemory", unit="MiB").text = str(spec.memory_mb)
    max_vcpus = max(spec.max_vcpus or spec.vcpus, spec.vcpus)
    vcpu = ET.SubElement(root, "vcpu", placement="static")
    vcpu.text = str(max_vcpus)
    if max_vcpus > spec.vcpus:  # dynamically scalable: the rest are hot-plugged by ScaleVm
        vcpu.set("current", str(spec.vcpus))
    if spec.max_memory_mb and spec.max_memory_mb > spec.memory_mb:
        # Room for memory DIMMs hot-plugged by ScaleVm; QEMU needs a NUMA cell to plug them into.
        ET.SubElement(root, "maxMemory", slots=str(MEMORY_SLOTS), unit="MiB").text = str(spec.max_memory_mb)
        numa = ET.SubElement(ET.SubElement(root, "cpu"), "numa")
        ET.SubElement(numa, "cell", id="0", cpus=f"0-{max_vcpus - 1}", memory=str(spec.memory_mb), unit="MiB")
    tune = ET.SubElement(root, "cputune")
    ET.SubElement(tune, "shares").text = str(spec.vcpus * spec.cpu_speed_mhz)  # CloudStack's weighting
    if spec.limit_cpu_use:
        ET.SubElement(tune, "period").text = "100000"
        ET.SubElement(tune, "quota").text = str(int(100000 * spec.vcpus))
    os_el = ET.SubElement(root, "os")
    ET.SubElement(os_el, "type", arch=arch, machine="pc").text = "hvm"
    has_disk = any(d.device == "disk" for d in spec.disks)
    boot_order = ["cdrom", "hd"] if spec.boot_from_cdrom or not has_disk else ["hd", "cdrom"]
    for dev in boot_order:
        ET.SubElement(os_el, "boot", dev=dev)
    features = ET.SubElement(root, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    ET.SubElement(root, "clock", offset="utc")
    ET.SubElement(root, "on_poweroff").text = "destroy"
    ET.SubElement(root, "on_reboot").text = "restart"
    ET.SubElement(root, "on_crash").text = "destroy"
    devices = ET.SubElement(root, "devices")
    for disk in spec.disks:
        el = ET.SubElement(devices, "disk", type="file", device=disk.device)
        ET.SubElement(el, "driver", name="qemu", type="raw" if disk.format == "iso" else disk.format,
                      cache="none" if disk.device == "disk" else "default")
        if disk.path:  # a CD-ROM without a path is an empty drive (media can be inserted later)
            ET.SubElement(el, "source", file=disk.path)
        bus = "virtio" if disk.device == "disk" else "ide"
        ET.SubElement(el, "target", dev=disk.target, bus=bus)
        if disk.readonly or disk.device == "cdrom":
            ET.SubElement(el, "readonly")
        ET.SubElement(el, "serial").text = f"{spec.uuid[:8]}{disk.device_id:02d}"
    for nic in spec.nics:
        if nic.bridge:
            el = ET.SubElement(devices, "interface", type="bridge")
            ET.SubElement(el, "source", bridge=nic.bridge)
            if nic.vif:
                ET.SubElement(el, "target", dev=nic.vif)
        else:
            el = ET.SubElement(devices, "interface", type="user")
        ET.SubElement(el, "mac", address=nic.mac)
        ET.SubElement(el, "model", type="virtio")
    if spec.serial_log:
        serial = ET.SubElement(devices, "serial", type="file")
        ET.SubElement(serial, "source", path=spec.serial_log)
        ET.SubElement(serial, "target", port="0")
        console = ET.SubElement(devices, "console", type="file")
        ET.SubElement(console, "source", path=spec.serial_log)
        ET.SubElement(console, "target", type="serial", port="0")
    else:
        serial = ET.SubElement(devices, "serial", type="pty")
        ET.SubElement(serial, "target", port="0")
    ET.SubElement(devices, "memballoon", model="virtio")
    return ET.tostring(root, encoding="unicode")


def memory_dimm_xml(size_kib: int) -> str:
    """A memory module of ``size_kib`` for NUMA cell 0 (hot-plugged to grow a running VM)."""
    dimm = ET.Element("memory", model="dimm")
    target = ET.SubElement(dimm, "target")
    ET.SubElement(target, "size", unit="KiB").text = str(size_kib)
    ET.SubElement(target, "node").text = "0"
    return ET.tostring(dimm, encoding="unicode")
