"""snapshots: volume snapshots, their backups on image stores, recurring snapshot policies, template download URLs

Revision ID: 0007s
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import management.db

revision = '0007s'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('volume_id', sa.Integer(), nullable=False),
    sa.Column('disk_offering_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('update_count', sa.BigInteger(), nullable=False),
    sa.Column('snapshot_type', sa.Integer(), nullable=False),
    sa.Column('type_description', sa.String(length=25), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('hypervisor_type', sa.String(length=32), nullable=True),
    sa.Column('policy_id', sa.BigInteger(), nullable=True),
    sa.Column('location_type', sa.String(length=32), nullable=True),
    sa.Column('error_str', sa.String(length=1024), nullable=True),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('removed', management.db.UtcDateTime(), nullable=True),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], ),
    sa.ForeignKeyConstraint(['volume_id'], ['volumes.id'], ),
    sa.ForeignKeyConstraint(['zone_id'], ['data_center.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    op.create_index('ix_snapshots_account_removed', 'snapshots', ['account_id', 'removed'], unique=False)
    op.create_index('ix_snapshots_volume_status', 'snapshots', ['volume_id', 'status'], unique=False)
    op.create_index(op.f('ix_snapshots_zone_id'), 'snapshots', ['zone_id'], unique=False)
    op.create_index(op.f('ix_snapshots_domain_id'), 'snapshots', ['domain_id'], unique=False)
    op.create_table('snapshot_store_ref',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('store_role', sa.String(length=32), nullable=False),
    sa.Column('zone_id', sa.BigInteger(), nullable=False),
    sa.Column('volume_id', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('install_path', sa.String(length=1024), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('physical_size', sa.BigInteger(), nullable=True),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('last_updated', management.db.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['snapshot_id'], ['snapshots.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['image_store.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_snapshot_store_ref_snapshot_id'), 'snapshot_store_ref', ['snapshot_id'], unique=False)
    op.create_index(op.f('ix_snapshot_store_ref_store_id'), 'snapshot_store_ref', ['store_id'], unique=False)
    op.create_table('snapshot_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volume_id', sa.Integer(), nullable=False),
    sa.Column('schedule', sa.String(length=100), nullable=False),
    sa.Column('timezone', sa.String(length=100), nullable=False),
    sa.Column('interval', sa.Integer(), nullable=False),
    sa.Column('max_snaps', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('display', sa.Boolean(), nullable=False),
    sa.Column('next_run', management.db.UtcDateTime(), nullable=True),
    sa.Column('last_run', management.db.UtcDateTime(), nullable=True),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['volume_id'], ['volumes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    op.create_index('ix_snapshot_policy_active_next', 'snapshot_policy', ['active', 'next_run'], unique=False)
    op.create_index(op.f('ix_snapshot_policy_volume_id'), 'snapshot_policy', ['volume_id'], unique=False)
    op.create_table('template_extract',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.BigInteger(), nullable=False),
    sa.Column('store_id', sa.BigInteger(), nullable=False),
    sa.Column('install_path', sa.String(length=1024), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('expires', management.db.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['template_id'], ['vm_template.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token')
    )
    op.create_index(op.f('ix_template_extract_template_id'), 'template_extract', ['template_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_template_extract_template_id'), table_name='template_extract')
    op.drop_table('template_extract')
    op.drop_index(op.f('ix_snapshot_policy_volume_id'), table_name='snapshot_policy')
    op.drop_index('ix_snapshot_policy_active_next', table_name='snapshot_policy')
    op.drop_table('snapshot_policy')
    op.drop_index(op.f('ix_snapshot_store_ref_store_id'), table_name='snapshot_store_ref')
    op.drop_index(op.f('ix_snapshot_store_ref_snapshot_id'), table_name='snapshot_store_ref')
    op.drop_table('snapshot_store_ref')
    op.drop_index(op.f('ix_snapshots_domain_id'), table_name='snapshots')
    op.drop_index(op.f('ix_snapshots_zone_id'), table_name='snapshots')
    op.drop_index('ix_snapshots_volume_status', table_name='snapshots')
    op.drop_index('ix_snapshots_account_removed', table_name='snapshots')
    op.drop_table('snapshots')
