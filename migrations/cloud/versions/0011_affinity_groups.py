"""affinity groups (host anti-affinity, host affinity) and their VMs

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "affinity_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=4096), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["domain_id"], ["domain.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name", name="uq_affinity_group_account_name"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_index("ix_affinity_group_account_id", "affinity_group", ["account_id"], unique=False)
    op.create_index("ix_affinity_group_domain_id", "affinity_group", ["domain_id"], unique=False)
    op.create_table(
        "affinity_group_vm_map",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("affinity_group_id", sa.Integer(), nullable=False),
        sa.Column("vm_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["affinity_group_id"], ["affinity_group.id"]),
        sa.ForeignKeyConstraint(["vm_id"], ["vm_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("affinity_group_id", "vm_id", name="uq_affinity_group_vm_map"),
    )
    op.create_index("ix_affinity_group_vm_map_affinity_group_id", "affinity_group_vm_map", ["affinity_group_id"],
                    unique=False)
    op.create_index("ix_affinity_group_vm_map_vm_id", "affinity_group_vm_map", ["vm_id"], unique=False)


def downgrade() -> None:
    op.drop_table("affinity_group_vm_map")
    op.drop_table("affinity_group")
