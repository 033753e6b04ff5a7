"""vm_snapshots: VM snapshots (internal qcow2 snapshots of a stopped VM's disks)

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

from management.db import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vm_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("vm_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("removed", UtcDateTime(), nullable=True),
        sa.Column("uuid", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["vm_id"], ["vm_instance.id"]),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["domain_id"], ["domain.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_index("ix_vm_snapshots_vm_id", "vm_snapshots", ["vm_id"])
    op.create_index("ix_vm_snapshots_account_id", "vm_snapshots", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_vm_snapshots_account_id", table_name="vm_snapshots")
    op.drop_index("ix_vm_snapshots_vm_id", table_name="vm_snapshots")
    op.drop_table("vm_snapshots")
