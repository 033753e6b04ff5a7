"""Default rows of the storage domain (filled in by the infrastructure issue's storage work)."""

from __future__ import annotations

from sqlalchemy.orm import Session


def seed(session: Session) -> None:
    """Insert the storage defaults that are missing (idempotent)."""
