"""``cloudstack-agent``: the host agent process (one per hypervisor host; several may share a machine for tests).

    cloudstack-agent --config /etc/cloudstack/agent/agent.properties
    cloudstack-agent --config a.properties --guid 5a1c... --driver simulator --broker-url redis://10.0.0.2:6379/0

Every flag overrides the key of the same name in the file (see ``agent.config``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from agent.config import DEFAULT_PATH, AgentConfig, ConfigError, load

FLAGS = {  # flag -> property key
    "guid": "guid", "zone": "zone", "pod": "pod", "cluster": "cluster", "name": "name", "private_ip": "private.ip",
    "driver": "driver", "hypervisor_uri": "hypervisor.uri", "domain_type": "libvirt.domain.type",
    "broker_url": "broker.url", "management_queue": "management.queue", "ping_interval": "ping.interval",
    "workers": "workers",
    "local_storage_path": "local.storage.path", "storage_path": "storage.path",
}


def make_driver(config: AgentConfig):
    if config.driver == "simulator":
        from agent.hypervisor.simulator import SimulatorDriver

        driver = SimulatorDriver(private_ip=config.private_ip)
        driver.delays.update(config.delays)
        return driver
    from agent.hypervisor.libvirt.driver import LibvirtDriver

    return LibvirtDriver(config.hypervisor_uri, private_ip=config.private_ip, domain_type=config.domain_type)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cloudstack-agent", description="Run the CloudStack host agent.")
    parser.add_argument("--config", help=f"agent.properties (env CLOUDSTACK_AGENT_CONFIG; default {DEFAULT_PATH} "
                                         "if it exists)")
    for flag, key in FLAGS.items():
        parser.add_argument("--" + flag.replace("_", "-"), dest=flag, help=f"overrides {key}")
    parser.add_argument("--log-level", default=os.environ.get("CLOUDSTACK_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = args.config or os.environ.get("CLOUDSTACK_AGENT_CONFIG")
    if path is None and DEFAULT_PATH.is_file():
        path = str(DEFAULT_PATH)
    try:
        config = load(Path(path) if path else None, {key: getattr(args, flag) for flag, key in FLAGS.items()})
    except ConfigError as error:
        sys.exit(f"cloudstack-agent: {error}")
    from agent.link import AgentLink
    from management.version import __version__

    driver = make_driver(config)
    logging.getLogger(__name__).info("agent %s (%s, driver %s) on queue %s, broker %s", config.name, config.guid,
                                     config.driver, config.queue, config.broker_url)
    AgentLink(config, driver, version=__version__).run(loglevel=args.log_level.upper())


if __name__ == "__main__":
    main()
