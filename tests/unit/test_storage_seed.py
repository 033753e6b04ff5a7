"""Guest OS seeds are idempotent and use CloudStack's ids for the classic entries."""

from __future__ import annotations

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from management.db import Base
from management.storage import seed
from management.storage.models import GuestOs, GuestOsCategory


def test_seed_is_idempotent():
    import management.models
    import management.storage.models  # noqa: F401

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        seed.seed(session)
        seed.seed(session)
        session.commit()
        assert session.scalar(select(func.count(GuestOs.id))) == len(seed.GUEST_OS) >= 30
        assert session.scalar(select(func.count(GuestOsCategory.id))) == len(seed.CATEGORIES)
        assert session.get(GuestOs, 99).display_name == "Other Linux (64-bit)"
        assert session.get(GuestOs, 140).display_name == "Other PV (64-bit)"
        assert session.get(GuestOsCategory, 2).name == "Debian"
        names = [r for r in session.scalars(select(GuestOs.display_name))]
        assert len(names) == len(set(names))
