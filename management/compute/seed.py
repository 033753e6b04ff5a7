"""Default rows of the compute domain (filled in by the infrastructure issue's compute work)."""

from __future__ import annotations

from sqlalchemy.orm import Session


def seed(session: Session) -> None:
    """Insert the compute defaults that are missing (idempotent)."""
