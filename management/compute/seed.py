"""Default rows of the compute domain: CloudStack's default offerings plus EC2-named compute offerings.

Idempotent by name: an offering is inserted only when no offering (active or removed) has that name, so an
administrator's edits and deletions survive restarts.

EC2 instance types (for the EC2 door; speed = EC2 compute units per core x 1000 MHz, rounded):

| name      | cores | MHz  | MB    |
|-----------|-------|------|-------|
| t1.micro  | 1     | 500  | 613   |
| m1.small  | 1     | 1000 | 1740  |
| m1.medium | 1     | 2000 | 3840  |
| m1.large  | 2     | 2000 | 7680  |
| m1.xlarge | 4     | 2000 | 15360 |
| c1.medium | 2     | 2500 | 1740  |
| c1.xlarge | 8     | 2500 | 7168  |
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.compute import offerings
from management.compute.models import DiskOffering, ServiceOffering
from management.context import system_caller

# (name, display text, cores, MHz, MB)
SERVICE_OFFERINGS = (
    ("Small Instance", "Small Instance", 1, 500, 512),
    ("Medium Instance", "Medium Instance", 1, 1000, 1024),
    ("t1.micro", "EC2 t1.micro: 1 vCPU, 613 MB", 1, 500, 613),
    ("m1.small", "EC2 m1.small: 1 vCPU, 1.7 GB", 1, 1000, 1740),
    ("m1.medium", "EC2 m1.medium: 1 vCPU, 3.75 GB", 1, 2000, 3840),
    ("m1.large", "EC2 m1.large: 2 vCPU, 7.5 GB", 2, 2000, 7680),
    ("m1.xlarge", "EC2 m1.xlarge: 4 vCPU, 15 GB", 4, 2000, 15360),
    ("c1.medium", "EC2 c1.medium: 2 vCPU, 1.7 GB", 2, 2500, 1740),
    ("c1.xlarge", "EC2 c1.xlarge: 8 vCPU, 7 GB", 8, 2500, 7168),
)

# (name, display text, GB or None for a customized size)
DISK_OFFERINGS = (
    ("Small", "Small Disk, 5 GB", 5),
    ("Medium", "Medium Disk, 20 GB", 20),
    ("Large", "Large Disk, 100 GB", 100),
    ("Custom", "Custom Disk", None),
)


def seed(session: Session) -> None:
    """Insert the compute defaults that are missing (idempotent)."""
    caller = system_caller()
    known = set(session.scalars(select(ServiceOffering.name)))
    for sort_key, (name, text, cpu, speed, memory) in enumerate(SERVICE_OFFERINGS):
        if name not in known:
            offering = offerings.create_service_offering(session, caller, name=name, display_text=text, cpu=cpu,
                                                         speed=speed, memory=memory, record_event=False)
            offering.sort_key = sort_key
    known = set(session.scalars(select(DiskOffering.name)))
    for sort_key, (name, text, size) in enumerate(DISK_OFFERINGS):
        if name not in known:
            offering = offerings.create_disk_offering(session, caller, name=name, display_text=text,
                                                      disk_size_gb=size, record_event=False)
            offering.sort_key = sort_key
    session.flush()
