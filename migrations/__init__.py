"""Alembic migrations: ``cloud/`` for the cloud database, ``usage/`` for cloud_usage (each one linear history)."""
