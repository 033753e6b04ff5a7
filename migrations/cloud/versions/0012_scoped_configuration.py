"""scoped setting values (zone, cluster, storage pool, account, domain, image store)

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

from management.db import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "configuration_scoped",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("updated", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["name"], ["configuration.name"]),
        sa.PrimaryKeyConstraint("scope", "resource_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("configuration_scoped")
