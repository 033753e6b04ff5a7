"""Imports every domain's command declarations into the registry (and the hooks and periodic tasks that
come with them)."""

from management.affinity import commands as affinity_commands  # noqa: F401
from management.api.native import discovery  # noqa: F401
from management.compute import offering_commands, vm_commands, vm_hooks, vm_scheduled  # noqa: F401
from management.config import commands as config_commands  # noqa: F401
from management.events import alerts as event_alerts  # noqa: F401
from management.events import commands as event_commands  # noqa: F401
from management.guest import commands as guest_commands  # noqa: F401
from management.iam import commands as iam_commands  # noqa: F401
from management.iam import role_commands  # noqa: F401
from management.infra import commands as infra_commands  # noqa: F401
from management.infra import host_commands as infra_host_commands  # noqa: F401
from management.tags import commands as tag_commands  # noqa: F401
from management.infra import simulator as infra_simulator  # noqa: F401
from management.jobs import commands as job_commands  # noqa: F401
from management.limits import commands as limit_commands  # noqa: F401
from management.network import commands as network_commands  # noqa: F401
from management.securitygroups import commands as securitygroup_commands  # noqa: F401
from management.storage import commands as storage_commands  # noqa: F401
from management.storage import pool_hosts  # noqa: F401
from management.storage import volume_commands  # noqa: F401,I001  (volume hooks before the snapshot ones)
from management.storage import snapshot_commands  # noqa: F401
from management.vmsnapshots import commands as vmsnapshot_commands  # noqa: F401
