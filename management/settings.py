"""Process settings: where the data lives, which database and broker, which ports.

Database settings come from a CloudStack-style ``db.properties`` file (same keys:
``db.cloud.host``, ``db.cloud.port``, ``db.cloud.username``, ``db.cloud.password``,
``db.cloud.name``, ``db.usage.*``), each overridable by an environment variable named
``CLOUDSTACK_`` + the key upper-cased with dots as underscores (``CLOUDSTACK_DB_CLOUD_HOST``).
With no db.properties and no overrides the server runs on the embedded default: SQLite files
and a file-system Celery broker under the data directory, with the worker inside the process.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DB_KEYS = ("host", "port", "username", "password", "name", "driver")
SYSTEM_DB_PROPERTIES = Path("/etc/cloudstack/management/db.properties")


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cloudstack"


def read_properties(path: Path) -> dict[str, str]:
    """Parse a Java-style .properties file (key=value or key: value, # and ! comments)."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        sep = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if sep < 0:
            values[line] = ""
            continue
        values[line[:sep].strip()] = line[sep + 1 :].strip()
    return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOUDSTACK_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    port: int = 8080
    bind: str = "0.0.0.0"
    db_properties: Path | None = None
    broker_url: str | None = None
    embedded_worker: bool | None = None
    worker_concurrency: int = 4
    queue: str = "management"  # Celery queue of the jobs (one per cloud when clouds share a broker)
    node_name: str | None = None
    max_request_bytes: int = 1_048_576
    api_threads: int = 4  # API requests served in parallel by one process (the rest queue)
    job_stale_seconds: int = 60  # a running job whose worker has not beaten for this long is failed
    job_resend_seconds: int = 30  # a queued job no worker claimed for this long is sent again
    log_level: str = "INFO"

    def properties(self) -> dict[str, str]:
        """db.properties merged with environment overrides of the same keys."""
        path = self.db_properties
        if path is None:
            for candidate in (self.data_dir / "db.properties", SYSTEM_DB_PROPERTIES):
                if candidate.is_file():
                    path = candidate
                    break
        props = read_properties(path) if path is not None and path.is_file() else {}
        for db in ("cloud", "usage"):
            for key in DB_KEYS:
                env = os.environ.get(f"CLOUDSTACK_DB_{db.upper()}_{key.upper()}")
                if env is not None:
                    props[f"db.{db}.{key}"] = env
        return props

    @property
    def embedded(self) -> bool:
        """True when no MySQL database is configured: SQLite files under data_dir."""
        return "db.cloud.host" not in self.properties()

    def database_url(self, db: str = "cloud") -> str:
        props = self.properties()
        if f"db.{db}.host" not in props and "db.cloud.host" not in props:
            return f"sqlite:///{self.data_dir / (db if db == 'cloud' else 'cloud_usage')}.db"
        get = lambda key, default: props.get(f"db.{db}.{key}", props.get(f"db.cloud.{key}", default))  # noqa: E731
        name = props.get(f"db.{db}.name", "cloud" if db == "cloud" else "cloud_usage")
        user = quote(get("username", "cloud"), safe="")
        password = quote(get("password", ""), safe="")
        return f"mysql+pymysql://{user}:{password}@{get('host', 'localhost')}:{get('port', '3306')}/{name}?charset=utf8mb4"

    def celery_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        props = self.properties()
        if "celery.broker.url" in props:
            return props["celery.broker.url"]
        return "filesystem://" if self.embedded else "redis://127.0.0.1:6379/0"

    def run_embedded_worker(self) -> bool:
        if self.embedded_worker is not None:
            return self.embedded_worker
        return self.celery_broker_url().startswith(("filesystem://", "memory://"))


@lru_cache
def get_settings() -> Settings:
    return Settings()
