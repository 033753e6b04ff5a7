"""merge the storage and offerings/limits branches

Revision ID: 0004
Revises: 0003s, 0003c
"""

revision = "0004"
down_revision = ("0003s", "0003c")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
