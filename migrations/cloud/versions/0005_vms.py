"""VM instances, NICs, volumes and template copies on primary storage

Revision ID: 0005c
Revises: 0004
Create Date: 2026-11-22 03:02:22.045380
"""
import sqlalchemy as sa
from alembic import op

import management.db

revision = '0005c'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('vm_instance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('instance_name', sa.String(length=255), nullable=True),
    sa.Column('display_name', sa.String(length=255), nullable=True),
    sa.Column('vm_type', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('update_count', sa.BigInteger(), nullable=False),
    sa.Column('host_id', sa.Integer(), nullable=True),
    sa.Column('last_host_id', sa.Integer(), nullable=True),
    sa.Column('pod_id', sa.Integer(), nullable=True),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('service_offering_id', sa.Integer(), nullable=False),
    sa.Column('disk_offering_id', sa.Integer(), nullable=True),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('iso_id', sa.Integer(), nullable=True),
    sa.Column('guest_os_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_data', sa.Text(), nullable=True),
    sa.Column('keypairs', sa.String(length=1024), nullable=True),
    sa.Column('ssh_public_key', sa.Text(), nullable=True),
    sa.Column('password', sa.String(length=255), nullable=True),
    sa.Column('security_groups', sa.Text(), nullable=True),
    sa.Column('group_name', sa.String(length=255), nullable=True),
    sa.Column('ha_enabled', sa.Boolean(), nullable=False),
    sa.Column('limit_cpu_use', sa.Boolean(), nullable=False),
    sa.Column('dynamically_scalable', sa.Boolean(), nullable=False),
    sa.Column('display_vm', sa.Boolean(), nullable=False),
    sa.Column('cpu', sa.Integer(), nullable=False),
    sa.Column('speed', sa.Integer(), nullable=False),
    sa.Column('memory', sa.Integer(), nullable=False),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('hypervisor_type', sa.String(length=32), nullable=True),
    sa.Column('power_state', sa.String(length=32), nullable=False),
    sa.Column('power_state_update', management.db.UtcDateTime(), nullable=True),
    sa.Column('power_host_id', sa.BigInteger(), nullable=True),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('updated', management.db.UtcDateTime(), nullable=True),
    sa.Column('removed', management.db.UtcDateTime(), nullable=True),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_vm_instance_account_id_account')),
    sa.ForeignKeyConstraint(['disk_offering_id'], ['disk_offering.id'], name=op.f('fk_vm_instance_disk_offering_id_disk_offering')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_vm_instance_domain_id_domain')),
    sa.ForeignKeyConstraint(['guest_os_id'], ['guest_os.id'], name=op.f('fk_vm_instance_guest_os_id_guest_os')),
    sa.ForeignKeyConstraint(['host_id'], ['host.id'], name=op.f('fk_vm_instance_host_id_host')),
    sa.ForeignKeyConstraint(['iso_id'], ['vm_template.id'], name=op.f('fk_vm_instance_iso_id_vm_template')),
    sa.ForeignKeyConstraint(['last_host_id'], ['host.id'], name=op.f('fk_vm_instance_last_host_id_host')),
    sa.ForeignKeyConstraint(['pod_id'], ['host_pod_ref.id'], name=op.f('fk_vm_instance_pod_id_host_pod_ref')),
    sa.ForeignKeyConstraint(['service_offering_id'], ['service_offering.id'], name=op.f('fk_vm_instance_service_offering_id_service_offering')),
    sa.ForeignKeyConstraint(['template_id'], ['vm_template.id'], name=op.f('fk_vm_instance_template_id_vm_template')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_vm_instance_user_id_user')),
    sa.ForeignKeyConstraint(['zone_id'], ['data_center.id'], name=op.f('fk_vm_instance_zone_id_data_center')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vm_instance')),
    sa.UniqueConstraint('instance_name', name=op.f('uq_vm_instance_instance_name')),
    sa.UniqueConstraint('uuid', name=op.f('uq_vm_instance_uuid'))
    )
    with op.batch_alter_table('vm_instance', schema=None) as batch_op:
        batch_op.create_index('ix_vm_instance_account_removed', ['account_id', 'removed'], unique=False)
        batch_op.create_index(batch_op.f('ix_vm_instance_domain_id'), ['domain_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vm_instance_host_id'), ['host_id'], unique=False)
        batch_op.create_index('ix_vm_instance_host_state', ['host_id', 'state'], unique=False)
        batch_op.create_index('ix_vm_instance_state_removed', ['state', 'removed'], unique=False)
        batch_op.create_index(batch_op.f('ix_vm_instance_template_id'), ['template_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vm_instance_zone_id'), ['zone_id'], unique=False)

    op.create_table('nics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vm_id', sa.Integer(), nullable=False),
    sa.Column('mac_address', sa.String(length=17), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('netmask', sa.String(length=64), nullable=True),
    sa.Column('gateway', sa.String(length=64), nullable=True),
    sa.Column('ip_id', sa.Integer(), nullable=True),
    sa.Column('vlan_id', sa.Integer(), nullable=True),
    sa.Column('network_id', sa.BigInteger(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('broadcast_uri', sa.String(length=255), nullable=True),
    sa.Column('isolation_uri', sa.String(length=255), nullable=True),
    sa.Column('network_type', sa.String(length=32), nullable=False),
    sa.Column('traffic_type', sa.String(length=32), nullable=False),
    sa.Column('mode', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('removed', management.db.UtcDateTime(), nullable=True),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['ip_id'], ['user_ip_address.id'], name=op.f('fk_nics_ip_id_user_ip_address')),
    sa.ForeignKeyConstraint(['vlan_id'], ['vlan.id'], name=op.f('fk_nics_vlan_id_vlan')),
    sa.ForeignKeyConstraint(['vm_id'], ['vm_instance.id'], name=op.f('fk_nics_vm_id_vm_instance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nics')),
    sa.UniqueConstraint('mac_address', name=op.f('uq_nics_mac_address')),
    sa.UniqueConstraint('uuid', name=op.f('uq_nics_uuid'))
    )
    with op.batch_alter_table('nics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nics_vm_id'), ['vm_id'], unique=False)

    op.create_table('template_spool_ref',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('install_path', sa.String(length=1024), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('error_str', sa.String(length=1024), nullable=True),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('last_updated', management.db.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['storage_pool.id'], name=op.f('fk_template_spool_ref_pool_id_storage_pool')),
    sa.ForeignKeyConstraint(['template_id'], ['vm_template.id'], name=op.f('fk_template_spool_ref_template_id_vm_template')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_template_spool_ref')),
    sa.UniqueConstraint('template_id', 'pool_id', name='uq_template_spool_ref_template_pool')
    )
    with op.batch_alter_table('template_spool_ref', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_template_spool_ref_pool_id'), ['pool_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_template_spool_ref_template_id'), ['template_id'], unique=False)

    op.create_table('volumes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('vm_id', sa.Integer(), nullable=True),
    sa.Column('volume_type', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('update_count', sa.BigInteger(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=True),
    sa.Column('last_pool_id', sa.BigInteger(), nullable=True),
    sa.Column('path', sa.String(length=1024), nullable=True),
    sa.Column('format', sa.String(length=16), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('min_iops', sa.BigInteger(), nullable=True),
    sa.Column('max_iops', sa.BigInteger(), nullable=True),
    sa.Column('disk_offering_id', sa.Integer(), nullable=True),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('pod_id', sa.BigInteger(), nullable=True),
    sa.Column('provisioning_type', sa.String(length=16), nullable=False),
    sa.Column('display_volume', sa.Boolean(), nullable=False),
    sa.Column('attached', management.db.UtcDateTime(), nullable=True),
    sa.Column('created', management.db.UtcDateTime(), nullable=False),
    sa.Column('updated', management.db.UtcDateTime(), nullable=True),
    sa.Column('removed', management.db.UtcDateTime(), nullable=True),
    sa.Column('uuid', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_volumes_account_id_account')),
    sa.ForeignKeyConstraint(['disk_offering_id'], ['disk_offering.id'], name=op.f('fk_volumes_disk_offering_id_disk_offering')),
    sa.ForeignKeyConstraint(['domain_id'], ['domain.id'], name=op.f('fk_volumes_domain_id_domain')),
    sa.ForeignKeyConstraint(['pool_id'], ['storage_pool.id'], name=op.f('fk_volumes_pool_id_storage_pool')),
    sa.ForeignKeyConstraint(['template_id'], ['vm_template.id'], name=op.f('fk_volumes_template_id_vm_template')),
    sa.ForeignKeyConstraint(['vm_id'], ['vm_instance.id'], name=op.f('fk_volumes_vm_id_vm_instance')),
    sa.ForeignKeyConstraint(['zone_id'], ['data_center.id'], name=op.f('fk_volumes_zone_id_data_center')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volumes')),
    sa.UniqueConstraint('uuid', name=op.f('uq_volumes_uuid'))
    )
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.create_index('ix_volumes_account_removed', ['account_id', 'removed'], unique=False)
        batch_op.create_index('ix_volumes_pool_state', ['pool_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_volumes_vm_id'), ['vm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_volumes_zone_id'), ['zone_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volumes_zone_id'))
        batch_op.drop_index(batch_op.f('ix_volumes_vm_id'))
        batch_op.drop_index('ix_volumes_pool_state')
        batch_op.drop_index('ix_volumes_account_removed')

    op.drop_table('volumes')
    with op.batch_alter_table('template_spool_ref', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_template_spool_ref_template_id'))
        batch_op.drop_index(batch_op.f('ix_template_spool_ref_pool_id'))

    op.drop_table('template_spool_ref')
    with op.batch_alter_table('nics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nics_vm_id'))

    op.drop_table('nics')
    with op.batch_alter_table('vm_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vm_instance_zone_id'))
        batch_op.drop_index(batch_op.f('ix_vm_instance_template_id'))
        batch_op.drop_index('ix_vm_instance_state_removed')
        batch_op.drop_index('ix_vm_instance_host_state')
        batch_op.drop_index(batch_op.f('ix_vm_instance_host_id'))
        batch_op.drop_index(batch_op.f('ix_vm_instance_domain_id'))
        batch_op.drop_index('ix_vm_instance_account_removed')

    op.drop_table('vm_instance')
