"""merge the agent-link and VM branches

Revision ID: 0006
Revises: 0005a, 0005c
"""

revision = "0006"
down_revision = ("0005a", "0005c")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
