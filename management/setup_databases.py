"""cloud-setup-databases: create the cloud and cloud_usage databases and their user, migrate, seed.

    cloud-setup-databases cloud:PASSWORD@HOST[:PORT] --deploy-as=root:ROOTPASSWORD

Safe to run again: existing databases, user and data are kept, the schema is brought up to date,
and the db.properties file is rewritten with the same keys CloudStack uses.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pymysql

from management.settings import SYSTEM_DB_PROPERTIES

SPEC = re.compile(r"^(?P<user>[^:@]+):(?P<password>.*)@(?P<host>[^:@]+)(?::(?P<port>\d+))?$")
NAME = re.compile(r"^[A-Za-z0-9_]+$")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cloud-setup-databases", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="USER:PASSWORD@HOST[:PORT] the management server will connect as")
    parser.add_argument("--deploy-as", help="ROOTUSER:ROOTPASSWORD with rights to create databases and users")
    parser.add_argument("--db-properties", default=str(SYSTEM_DB_PROPERTIES), help="where to write db.properties")
    parser.add_argument("--cloud-db", default="cloud", help="name of the cloud database (default cloud)")
    parser.add_argument("--usage-db", default="cloud_usage", help="name of the usage database (default cloud_usage)")
    parser.add_argument("--admin-password", default="password", help="password of the seeded admin user")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    match = SPEC.match(args.target)
    if not match:
        sys.exit("cloud-setup-databases: the target must look like cloud:PASSWORD@HOST[:PORT]")
    for name in (args.cloud_db, args.usage_db, match["user"]):
        if not NAME.match(name):
            sys.exit(f"cloud-setup-databases: '{name}' is not a valid database or user name")
    host, port = match["host"], int(match["port"] or 3306)
    if args.deploy_as:
        root_user, _, root_password = args.deploy_as.partition(":")
        deploy(host, port, root_user, root_password, match["user"], match["password"], args.cloud_db, args.usage_db)
    path = Path(args.db_properties)
    write_properties(path, host, port, match["user"], match["password"], args.cloud_db, args.usage_db)
    migrate_and_seed(path, args.admin_password)
    print(f"Databases {args.cloud_db} and {args.usage_db} on {host}:{port} are ready; settings in {path}")


def deploy(host: str, port: int, root_user: str, root_password: str, user: str, password: str,
           cloud_db: str, usage_db: str) -> None:
    conn = pymysql.connect(host=host, port=port, user=root_user, password=root_password, autocommit=True)
    try:
        with conn.cursor() as cur:
            for name in (cloud_db, usage_db):
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            for origin in ("localhost", "%"):
                cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, origin, password))
                cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, origin, password))
                for name in (cloud_db, usage_db):
                    cur.execute(f"GRANT ALL ON `{name}`.* TO %s@%s", (user, origin))
            cur.execute("FLUSH PRIVILEGES")
    finally:
        conn.close()


def write_properties(path: Path, host: str, port: int, user: str, password: str, cloud_db: str,
                     usage_db: str) -> None:
    lines = ["# Written by cloud-setup-databases", "db.cloud.driver=jdbc:mysql"]
    for db, name in (("cloud", cloud_db), ("usage", usage_db)):
        lines += [f"db.{db}.host={host}", f"db.{db}.port={port}", f"db.{db}.username={user}",
                  f"db.{db}.password={password}", f"db.{db}.name={name}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


def migrate_and_seed(path: Path, admin_password: str) -> None:
    from management.db import db
    from management.migrate import upgrade_all
    from management.seed import seed
    from management.settings import Settings

    settings = Settings(db_properties=path)
    db.configure(settings.database_url("cloud"), settings.database_url("usage"))
    try:
        upgrade_all(db.engine, db.usage_engine)
        with db.session() as session:
            seed(session, admin_password=admin_password)
    finally:
        db.dispose()
