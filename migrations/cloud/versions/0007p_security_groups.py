"""security groups: groups, rules, VM membership, per-VM rule-set sequence

Revision ID: 0007p
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import management.db

revision = '0007p'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('security_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=4096), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_security_group_account_id_account')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_security_group_domain_id_domain')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_group')),
    sa.UniqueConstraint('account_id', 'name', name='uq_security_group_account_name'),
    sa.UniqueConstraint('uuid', name=op.f('uq_security_group_uuid'))
    )
    op.create_index(op.f('ix_security_group_account_id'), 'security_group', ['account_id'], unique=False)
    op.create_index(op.f('ix_security_group_domain_id'), 'security_group', ['domain_id'], unique=False)
    op.create_table('security_group_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('security_group_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=10), nullable=False),
    sa.Column('protocol', sa.String(length=16), nullable=False),
    sa.Column('start_port', sa.Integer(), nullable=True),
    sa.Column('end_port', sa.Integer(), nullable=True),
    sa.Column('allowed_ip_cidr', sa.String(length=64), nullable=True),
    sa.Column('allowed_group_id', sa.Integer(), nullable=True),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['allowed_group_id'], ['security_group.id'],
                            name=op.f('fk_security_group_rule_allowed_group_id_security_group')),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_group.id'],
                            name=op.f('fk_security_group_rule_security_group_id_security_group')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_group_rule')),
    sa.UniqueConstraint('uuid', name=op.f('uq_security_group_rule_uuid'))
    )
    op.create_index(op.f('ix_security_group_rule_allowed_group_id'), 'security_group_rule', ['allowed_group_id'],
                    unique=False)
    op.create_index(op.f('ix_security_group_rule_security_group_id'), 'security_group_rule', ['security_group_id'],
                    unique=False)
    op.create_table('security_group_vm_map',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('security_group_id', sa.Integer(), nullable=False),
    sa.Column('vm_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_group.id'],
                            name=op.f('fk_security_group_vm_map_security_group_id_security_group')),
    sa.ForeignKeyConstraint(['vm_id'], ['vm_instance.id'], name=op.f('fk_security_group_vm_map_vm_id_vm_instance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_group_vm_map')),
    sa.UniqueConstraint('security_group_id', 'vm_id', name='uq_security_group_vm_map')
    )
    op.create_index(op.f('ix_security_group_vm_map_security_group_id'), 'security_group_vm_map',
                    ['security_group_id'], unique=False)
    op.create_index(op.f('ix_security_group_vm_map_vm_id'), 'security_group_vm_map', ['vm_id'], unique=False)
    op.create_table('security_group_work',
    sa.Column('vm_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('applied_seq', sa.BigInteger(), nullable=False),
    sa.Column('dirty', sa.Boolean(), nullable=False),
    sa.Column('host_id', sa.BigInteger(), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=True),
    sa.Column('rules', sa.Integer(), nullable=False),
    sa.Column('updated', management.db.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['vm_id'], ['vm_instance.id'], name=op.f('fk_security_group_work_vm_id_vm_instance')),
    sa.PrimaryKeyConstraint('vm_id', name=op.f('pk_security_group_work'))
    )
    op.create_index('ix_security_group_work_dirty', 'security_group_work', ['dirty'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_security_group_work_dirty', table_name='security_group_work')
    op.drop_table('security_group_work')
    op.drop_index(op.f('ix_security_group_vm_map_vm_id'), table_name='security_group_vm_map')
    op.drop_index(op.f('ix_security_group_vm_map_security_group_id'), table_name='security_group_vm_map')
    op.drop_table('security_group_vm_map')
    op.drop_index(op.f('ix_security_group_rule_security_group_id'), table_name='security_group_rule')
    op.drop_index(op.f('ix_security_group_rule_allowed_group_id'), table_name='security_group_rule')
    op.drop_table('security_group_rule')
    op.drop_index(op.f('ix_security_group_account_id'), table_name='security_group')
    op.drop_index(op.f('ix_security_group_domain_id'), table_name='security_group')
    op.drop_table('security_group')
