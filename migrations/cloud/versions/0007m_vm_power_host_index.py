"""index VMs by the host that last reported their power state

Revision ID: 0007m
Revises: 0006
"""

from alembic import op

revision = "0007m"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_vm_instance_power_host", "vm_instance", ["power_host_id", "power_state"])


def downgrade() -> None:
    op.drop_index("ix_vm_instance_power_host", table_name="vm_instance")
