"""This process's identity among the management servers and workers sharing one database."""

from __future__ import annotations

import os
import socket
import uuid

_NAME = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def name() -> str:
    return _NAME


def set_name(value: str) -> None:
    global _NAME
    _NAME = value
