"""Imports every model module so the metadata (and Alembic) sees all tables."""

from management.affinity import models as affinity_models  # noqa: F401
from management.compute import models as compute_models  # noqa: F401
from management.compute import vm_models  # noqa: F401
from management.config import models as config_models  # noqa: F401
from management.events import alerts as event_alerts  # noqa: F401
from management.events import models as event_models  # noqa: F401
from management.guest import models as guest_models  # noqa: F401
from management.iam import models as iam_models  # noqa: F401
from management.infra import models as infra_models  # noqa: F401
from management.infra import simulator as infra_simulator  # noqa: F401
from management.jobs import models as job_models  # noqa: F401
from management.limits import models as limit_models  # noqa: F401
from management.network import models as network_models  # noqa: F401
from management.securitygroups import models as securitygroup_models  # noqa: F401
from management.storage import models as storage_models  # noqa: F401
from management.storage import snapshot_models as storage_snapshot_models  # noqa: F401
from management.tags import models as tag_models  # noqa: F401
from management.vmsnapshots import models as vmsnapshot_models  # noqa: F401
from usage import models as usage_models  # noqa: F401
