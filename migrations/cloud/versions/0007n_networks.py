"""physical networks, traffic types, service providers, network offerings, guest networks, NIC secondary
addresses, zone details; static NAT columns on user_ip_address

Revision ID: 0007n
Revises: 0006
"""
import uuid

import sqlalchemy as sa
from alembic import op

import management.db

revision = "0007n"
down_revision = "0006"
branch_labels = None
depends_on = None

# CloudStack's default network offerings (NetworkOrchestrator.configure): name, display text, guest type,
# availability, services {service: provider}, specify vlan/ip ranges
SG = "SecurityGroupProvider"
VR = "VirtualRouter"
OFFERINGS = [
    ("DefaultSharedNetworkOfferingWithSGService", "Offering for Shared Security group enabled networks", "Shared",
     "Optional", {"Dhcp": VR, "Dns": VR, "UserData": VR, "SecurityGroup": SG}, True, True),
    ("DefaultSharedNetworkOffering", "Offering for Shared networks", "Shared", "Optional",
     {"Dhcp": VR, "Dns": VR, "UserData": VR}, True, True),
    ("DefaultIsolatedNetworkOfferingWithSourceNatService",
     "Offering for Isolated networks with Source Nat service enabled", "Isolated", "Required",
     {"Dhcp": VR, "Dns": VR, "UserData": VR, "Firewall": VR, "Gateway": VR, "Lb": VR, "SourceNat": VR,
      "StaticNat": VR, "PortForwarding": VR, "Vpn": VR}, False, False),
    ("DefaultL2NetworkOffering", "Offering for L2 networks", "L2", "Optional", {}, False, False),
]


def _id(table):
    return sa.Column("id", sa.Integer(), primary_key=True), sa.Column("uuid", sa.String(40), nullable=False,
                                                                        unique=True)


def upgrade() -> None:
    op.create_table(
        "physical_network", *_id("physical_network"),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("zone_id", sa.Integer(), sa.ForeignKey("data_center.id"), nullable=False, index=True),
        sa.Column("domain_id", sa.Integer(), sa.ForeignKey("domain.id"), nullable=True),
        sa.Column("vlan", sa.String(255)), sa.Column("speed", sa.String(32)),
        sa.Column("isolation_methods", sa.String(255)),
        sa.Column("broadcast_domain_range", sa.String(32), nullable=False),
        sa.Column("tags", sa.String(255)),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("created", management.db.UtcDateTime(), nullable=False),
        sa.Column("removed", management.db.UtcDateTime()))
    op.create_table(
        "physical_network_traffic_types", *_id("physical_network_traffic_types"),
        sa.Column("physical_network_id", sa.Integer(), sa.ForeignKey("physical_network.id"), nullable=False,
                  index=True),
        sa.Column("traffic_type", sa.String(32), nullable=False),
        sa.Column("kvm_label", sa.String(255)), sa.Column("xen_label", sa.String(255)),
        sa.Column("vmware_label", sa.String(255)), sa.Column("hyperv_label", sa.String(255)),
        sa.Column("ovm3_label", sa.String(255)), sa.Column("vlan", sa.String(255)),
        sa.Column("isolation_method", sa.String(32)),
        sa.UniqueConstraint("physical_network_id", "traffic_type", name="uq_pntt_network_type"))
    op.create_table(
        "physical_network_service_providers", *_id("physical_network_service_providers"),
        sa.Column("physical_network_id", sa.Integer(), sa.ForeignKey("physical_network.id"), nullable=False,
                  index=True),
        sa.Column("provider_name", sa.String(255), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("destination_physical_network_id", sa.BigInteger()),
        sa.Column("services", sa.String(1024)),
        sa.UniqueConstraint("physical_network_id", "provider_name", name="uq_pnsp_network_name"))
    op.create_table(
        "virtual_router_providers", *_id("virtual_router_providers"),
        sa.Column("nsp_id", sa.Integer(), sa.ForeignKey("physical_network_service_providers.id"), nullable=False,
                  index=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("removed", management.db.UtcDateTime()))
    offerings = op.create_table(
        "network_offerings", *_id("network_offerings"),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("unique_name", sa.String(64)),
        sa.Column("display_text", sa.String(255), nullable=False),
        sa.Column("traffic_type", sa.String(32), nullable=False),
        sa.Column("guest_type", sa.String(32)),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("availability", sa.String(32), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("system_only", sa.Boolean(), nullable=False),
        sa.Column("specify_vlan", sa.Boolean(), nullable=False),
        sa.Column("specify_ip_ranges", sa.Boolean(), nullable=False),
        sa.Column("conserve_mode", sa.Boolean(), nullable=False),
        sa.Column("egress_default_policy", sa.Boolean(), nullable=False),
        sa.Column("is_persistent", sa.Boolean(), nullable=False),
        sa.Column("services", sa.Text(), nullable=False),
        sa.Column("tags", sa.String(4096)),
        sa.Column("created", management.db.UtcDateTime(), nullable=False),
        sa.Column("removed", management.db.UtcDateTime()))
    op.create_table(
        "networks", *_id("networks"),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("display_text", sa.String(255)),
        sa.Column("traffic_type", sa.String(32), nullable=False),
        sa.Column("guest_type", sa.String(32), nullable=False),
        sa.Column("broadcast_domain_type", sa.String(32), nullable=False),
        sa.Column("broadcast_uri", sa.String(255)),
        sa.Column("gateway", sa.String(64)), sa.Column("cidr", sa.String(64)),
        sa.Column("network_offering_id", sa.Integer(), sa.ForeignKey("network_offerings.id"), nullable=False),
        sa.Column("physical_network_id", sa.Integer(), sa.ForeignKey("physical_network.id")),
        sa.Column("zone_id", sa.Integer(), sa.ForeignKey("data_center.id"), nullable=False, index=True),
        sa.Column("zone_guest_key", sa.BigInteger(), unique=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("acl_type", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("domain_id", sa.Integer(), sa.ForeignKey("domain.id"), nullable=False),
        sa.Column("subdomain_access", sa.Boolean(), nullable=False),
        sa.Column("network_domain", sa.String(255)),
        sa.Column("display_network", sa.Boolean(), nullable=False),
        sa.Column("created", management.db.UtcDateTime(), nullable=False),
        sa.Column("removed", management.db.UtcDateTime()))
    op.create_table(
        "nic_secondary_ips", *_id("nic_secondary_ips"),
        sa.Column("nic_id", sa.Integer(), sa.ForeignKey("nics.id"), nullable=False, index=True),
        sa.Column("vm_id", sa.Integer(), sa.ForeignKey("vm_instance.id"), nullable=False, index=True),
        sa.Column("network_id", sa.Integer(), sa.ForeignKey("networks.id")),
        sa.Column("ip_id", sa.Integer(), sa.ForeignKey("user_ip_address.id"), nullable=False, unique=True),
        sa.Column("ip_address", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("domain_id", sa.Integer(), sa.ForeignKey("domain.id"), nullable=False),
        sa.Column("device_count", sa.Integer(), nullable=False),
        sa.Column("created", management.db.UtcDateTime(), nullable=False))
    op.create_table(
        "data_center_details", sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("zone_id", sa.Integer(), sa.ForeignKey("data_center.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(1024), nullable=False),
        sa.UniqueConstraint("zone_id", "name", name="uq_data_center_details_zone_name"))
    with op.batch_alter_table("user_ip_address") as batch:
        batch.add_column(sa.Column("vm_ip_address", sa.String(64)))
        batch.add_column(sa.Column("network_id", sa.BigInteger()))
    import json
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(offerings, [
        {"uuid": str(uuid.uuid4()), "name": name, "unique_name": name, "display_text": text, "traffic_type": "Guest",
         "guest_type": guest, "state": "Enabled", "availability": availability, "is_default": True,
         "system_only": False, "specify_vlan": vlan, "specify_ip_ranges": ranges, "conserve_mode": True,
         "egress_default_policy": False, "is_persistent": False, "services": json.dumps(services), "tags": None,
         "created": now, "removed": None}
        for name, text, guest, availability, services, vlan, ranges in OFFERINGS])


def downgrade() -> None:
    with op.batch_alter_table("user_ip_address") as batch:
        batch.drop_column("network_id")
        batch.drop_column("vm_ip_address")
    for table in ("data_center_details", "nic_secondary_ips", "networks", "network_offerings", "virtual_router_providers",
                  "physical_network_service_providers", "physical_network_traffic_types", "physical_network"):
        op.drop_table(table)
