"""Default rows of the storage domain: guest OS categories and types, with CloudStack's ids and names."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.storage.models import GuestOs, GuestOsCategory

# guest_os_category as CloudStack seeds it (create-schema.sql); "None" arrived later as id 11.
CATEGORIES = (
    (1, "CentOS"), (2, "Debian"), (3, "Oracle"), (4, "RedHat"), (5, "SUSE"), (6, "Windows"), (7, "Other"),
    (8, "Novel"), (9, "Unix"), (10, "Ubuntu"), (11, "None"),
)

# (id, category id, display name). Ids below 300 are CloudStack's own (create-schema / early upgrades);
# CloudStack adds newer OS types at upgrade time with auto-increment ids that vary per install, so the
# modern entries use ids from 300 up.
GUEST_OS = (
    (111, 1, "CentOS 5.5 (32-bit)"), (112, 1, "CentOS 5.5 (64-bit)"),
    (200, 1, "Other CentOS (32-bit)"), (201, 1, "Other CentOS (64-bit)"),
    (132, 2, "Debian GNU/Linux 6(32-bit)"), (133, 2, "Debian GNU/Linux 6(64-bit)"),
    (136, 4, "Red Hat Enterprise Linux 6.0 (32-bit)"), (137, 4, "Red Hat Enterprise Linux 6.0 (64-bit)"),
    (202, 5, "Other SUSE Linux(32-bit)"), (203, 5, "Other SUSE Linux(64-bit)"),
    (48, 6, "Windows 7 (32-bit)"), (49, 6, "Windows 7 (64-bit)"),
    (54, 6, "Windows Server 2008 R2 (64-bit)"), (102, 6, "DOS"),
    (60, 7, "Other (32-bit)"), (103, 7, "Other (64-bit)"),
    (98, 7, "Other Linux (32-bit)"), (99, 7, "Other Linux (64-bit)"),
    (138, 7, "None"), (139, 7, "Other PV (32-bit)"), (140, 7, "Other PV (64-bit)"),
    (83, 9, "FreeBSD (32-bit)"), (84, 9, "FreeBSD (64-bit)"),
    (59, 10, "Other Ubuntu (32-bit)"), (100, 10, "Other Ubuntu (64-bit)"),
    (126, 10, "Ubuntu 10.04 (64-bit)"),
    (300, 1, "CentOS 7"), (301, 1, "CentOS 8"),
    (302, 2, "Debian GNU/Linux 10 (64-bit)"), (303, 2, "Debian GNU/Linux 11 (64-bit)"),
    (304, 2, "Debian GNU/Linux 12 (64-bit)"),
    (305, 4, "Red Hat Enterprise Linux 8.0"), (306, 4, "Red Hat Enterprise Linux 9"),
    (307, 4, "Rocky Linux 9"), (308, 4, "AlmaLinux 9"),
    (309, 10, "Ubuntu 20.04 LTS"), (310, 10, "Ubuntu 22.04 LTS"), (311, 10, "Ubuntu 24.04 LTS"),
    (312, 6, "Windows Server 2019 (64-bit)"), (313, 6, "Windows Server 2022 (64-bit)"),
    (314, 6, "Windows 10 (64-bit)"), (315, 6, "Windows 11 (64-bit)"),
)


def seed(session: Session) -> None:
    """Insert the categories and OS types that are missing, by name (idempotent)."""
    categories = {c.name: c for c in session.scalars(select(GuestOsCategory))}
    for cat_id, name in CATEGORIES:
        if name not in categories and session.get(GuestOsCategory, cat_id) is None:
            session.add(GuestOsCategory(id=cat_id, name=name, sort_key=cat_id))
    session.flush()
    known = set(session.scalars(select(GuestOs.display_name)))
    for os_id, cat_id, name in GUEST_OS:
        if name not in known and session.get(GuestOs, os_id) is None:
            session.add(GuestOs(id=os_id, category_id=cat_id, display_name=name, name=name))
    session.flush()
