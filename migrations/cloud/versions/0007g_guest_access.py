"""guest access: SSH key pairs

Revision ID: 0007g
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import management.db

revision = "0007g"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ssh_keypairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("keypair_name", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=255), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created", management.db.UtcDateTime(), nullable=False),
        sa.Column("uuid", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_ssh_keypairs_account_id_account")),
        sa.ForeignKeyConstraint(["domain_id"], ["domain.id"], name=op.f("fk_ssh_keypairs_domain_id_domain")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ssh_keypairs")),
        sa.UniqueConstraint("account_id", "keypair_name", name="uq_ssh_keypairs_account_name"),
        sa.UniqueConstraint("uuid", name=op.f("uq_ssh_keypairs_uuid")),
    )
    op.create_index(op.f("ix_ssh_keypairs_account_id"), "ssh_keypairs", ["account_id"], unique=False)
    op.create_index(op.f("ix_ssh_keypairs_domain_id"), "ssh_keypairs", ["domain_id"], unique=False)
    op.create_index(op.f("ix_ssh_keypairs_fingerprint"), "ssh_keypairs", ["fingerprint"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ssh_keypairs_fingerprint"), table_name="ssh_keypairs")
    op.drop_index(op.f("ix_ssh_keypairs_domain_id"), table_name="ssh_keypairs")
    op.drop_index(op.f("ix_ssh_keypairs_account_id"), table_name="ssh_keypairs")
    op.drop_table("ssh_keypairs")
