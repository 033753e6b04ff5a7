"""vm_instance.migration_host_id: where a Migrating VM is going (a migration whose worker died is settled)

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vm_instance") as batch:
        batch.add_column(sa.Column("migration_host_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vm_instance") as batch:
        batch.drop_column("migration_host_id")
