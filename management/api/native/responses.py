"""Base of response objects: pydantic models rendered with nulls omitted, as CloudStack does."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class ResponseObject(BaseModel):
    """A CloudStack response object; ``object_name`` is its key in the envelope (``account``...)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    object_name: ClassVar[str] = ""


def cs_date(value: datetime | None) -> str | None:
    """CloudStack's date format: ``2021-10-04T09:24:38+0000``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S+0000") if value is not None else None
