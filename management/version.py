"""Version strings: ours, and the CloudStack API level we speak."""

__version__ = "0.1.0"
CLOUDSTACK_VERSION = "4.20.1.0"
