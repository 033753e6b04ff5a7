"""agent link: alerts and simulator mocks (configureSimulator)

Revision ID: 0005a
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

import management.db

revision = '0005a'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=999), nullable=False),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('pod_id', sa.Integer(), nullable=True),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('sent_count', sa.Integer(), nullable=False),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('last_sent', management.db.UtcDateTime(), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert')),
    sa.UniqueConstraint('uuid', name=op.f('uq_alert_uuid'))
    )
    op.create_index(op.f('ix_alert_created'), 'alert', ['created'], unique=False)
    op.create_index('ix_alert_type_created', 'alert', ['type', 'created'], unique=False)
    op.create_table('simulator_mock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('pod_id', sa.Integer(), nullable=True),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('host_id', sa.Integer(), nullable=True),
    sa.Column('wait_ms', sa.Integer(), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('message', sa.String(length=1024), nullable=True),
    sa.Column('count', sa.Integer(), nullable=True),
    sa.Column('value', sa.String(length=1024), nullable=False),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('removed', management.db.UtcDateTime(), nullable=True),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.id'], name=op.f('fk_simulator_mock_cluster_id_cluster')),
    sa.ForeignKeyConstraint(['host_id'], ['host.id'], name=op.f('fk_simulator_mock_host_id_host')),
    sa.ForeignKeyConstraint(['pod_id'], ['host_pod_ref.id'], name=op.f('fk_simulator_mock_pod_id_host_pod_ref')),
    sa.ForeignKeyConstraint(['zone_id'], ['data_center.id'], name=op.f('fk_simulator_mock_zone_id_data_center')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_simulator_mock')),
    sa.UniqueConstraint('uuid', name=op.f('uq_simulator_mock_uuid'))
    )
    op.create_index(op.f('ix_simulator_mock_name'), 'simulator_mock', ['name'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_simulator_mock_name'), table_name='simulator_mock')
    op.drop_table('simulator_mock')
    op.drop_index('ix_alert_type_created', table_name='alert')
    op.drop_index(op.f('ix_alert_created'), table_name='alert')
    op.drop_table('alert')
