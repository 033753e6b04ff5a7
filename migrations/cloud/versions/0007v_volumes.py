"""volumes: source snapshot, uploads (URL, image store copy, status) and extract links

Revision ID: 0007v
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007v'
down_revision = '0006'
branch_labels = None
depends_on = None

COLUMNS = (
    ('snapshot_id', sa.BigInteger()),  # createVolume from a snapshot: copied onto a pool at first placement
    ('source_path', sa.String(length=1024)),  # an image on secondary storage to copy at first placement
    ('store_id', sa.BigInteger()),  # image store holding source_path (uploads) or the extracted copy
    ('url', sa.String(length=2048)),  # uploadVolume URL
    ('checksum', sa.String(length=255)),
    ('status', sa.String(length=1024)),  # upload progress or error text
    ('extract_path', sa.String(length=1024)),  # extractVolume copy, relative to the store
    ('extract_token', sa.String(length=64)),  # secret part of the download URL
)


def upgrade() -> None:
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.create_index('ix_volumes_snapshot_id', ['snapshot_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.drop_index('ix_volumes_snapshot_id')
        for name, _type in reversed(COLUMNS):
            batch_op.drop_column(name)
