"""Imports every domain's command declarations into the registry."""

from management.api.native import discovery  # noqa: F401
from management.compute import offering_commands  # noqa: F401
from management.config import commands as config_commands  # noqa: F401
from management.events import commands as event_commands  # noqa: F401
from management.iam import commands as iam_commands  # noqa: F401
from management.infra import commands as infra_commands  # noqa: F401
from management.infra import host_commands as infra_host_commands  # noqa: F401
from management.jobs import commands as job_commands  # noqa: F401
from management.limits import commands as limit_commands  # noqa: F401
from management.storage import commands as storage_commands  # noqa: F401
