"""merge the volumes, snapshots, networks, security groups, guest access and VM power-host branches

Revision ID: 0008
Revises: 0007g, 0007m, 0007n, 0007p, 0007s, 0007v
"""

revision = "0008"
down_revision = ("0007g", "0007m", "0007n", "0007p", "0007s", "0007v")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
