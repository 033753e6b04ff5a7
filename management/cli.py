"""Console scripts: cloudstack-management, cloudstack-worker, cloudstack-apikeys."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from management.settings import get_settings


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="where the embedded database, broker and files live "
                                           "(env CLOUDSTACK_DATA_DIR; default ~/.local/share/cloudstack)")
    parser.add_argument("--db-properties", help="path of db.properties (env CLOUDSTACK_DB_PROPERTIES)")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (env CLOUDSTACK_LOG_LEVEL)")


def _apply(args: argparse.Namespace) -> None:
    for name, env in (("data_dir", "CLOUDSTACK_DATA_DIR"), ("db_properties", "CLOUDSTACK_DB_PROPERTIES"),
                      ("log_level", "CLOUDSTACK_LOG_LEVEL"), ("port", "CLOUDSTACK_PORT"), ("bind", "CLOUDSTACK_BIND")):
        value = getattr(args, name, None)
        if value is not None:
            os.environ[env] = str(value)
    get_settings.cache_clear()
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def management_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cloudstack-management", description="Run the management server.")
    _common(parser)
    parser.add_argument("--port", type=int, help="API and console port (env CLOUDSTACK_PORT; default 8080)")
    parser.add_argument("--bind", help="address to listen on (env CLOUDSTACK_BIND; default 0.0.0.0)")
    parser.add_argument("--no-worker", action="store_true", help="do not run a job worker inside this process")
    args = parser.parse_args(argv)
    _apply(args)
    if args.no_worker:
        os.environ["CLOUDSTACK_EMBEDDED_WORKER"] = "false"
        get_settings.cache_clear()
    asyncio.run(_serve())


async def _serve() -> None:
    import uvicorn

    from management.app import create_app, create_integration_app
    from management.bootstrap import bootstrap
    from management.config import service as config
    from management.db import db
    from management.jobs.celery import EmbeddedWorker
    from management.jobs.periodic import Scheduler

    settings = get_settings()
    bootstrap(settings)
    with db.session() as session:
        integration_port = config.get_int(session, "integration.api.port")
    worker = EmbeddedWorker(settings.worker_concurrency) if settings.run_embedded_worker() else None
    if worker is not None:
        worker.start()
    scheduler = Scheduler("management")
    scheduler.start()
    # h11 refuses request heads over its limit (16 KiB by default) before we see them; let long GET
    # query strings through up to our own request limit, which answers with CloudStack's envelope.
    head_limit = settings.max_request_bytes + 65536
    servers = [uvicorn.Server(uvicorn.Config(create_app(), host=settings.bind, port=settings.port,
                                             log_level="warning", access_log=False,
                                             h11_max_incomplete_event_size=head_limit))]
    if integration_port > 0:
        servers.append(uvicorn.Server(uvicorn.Config(create_integration_app(), host="127.0.0.1",
                                                     port=integration_port, log_level="warning", access_log=False)))
    _banner(settings, integration_port, worker is not None)
    try:
        await asyncio.gather(*(server.serve() for server in servers))
    finally:
        scheduler.stop()
        if worker is not None:
            worker.stop()


def _banner(settings, integration_port: int, embedded_worker: bool) -> None:
    host = "127.0.0.1" if settings.bind in ("0.0.0.0", "::") else settings.bind
    base = f"http://{host}:{settings.port}"
    mode = "embedded (SQLite, in-process worker)" if settings.embedded else "MySQL"
    lines = [
        f"CloudStack-compatible management server is up ({mode}; data in {settings.data_dir})",
        f"  API:      {base}/client/api",
        f"  Console:  {base}/client/",
        "  Login:    admin / password (ROOT domain)",
        f"  API keys: cloudstack-apikeys --url {base}/client/api --username admin --password password",
    ]
    if integration_port > 0:
        lines.append(f"  Integration API (unauthenticated, 127.0.0.1 only): http://127.0.0.1:{integration_port}/client/api")
    if not embedded_worker:
        lines.append("  Jobs run on separate workers: start cloudstack-worker")
    print("\n".join(lines), flush=True)


def worker_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cloudstack-worker", description="Run a Celery worker for async jobs.")
    _common(parser)
    parser.add_argument("--concurrency", type=int, default=None, help="parallel jobs (default: CPU count)")
    parser.add_argument("--pool", default="threads", choices=("prefork", "threads", "solo"),
                        help="Celery pool (default threads)")
    args = parser.parse_args(argv)
    _apply(args)

    from celery.signals import worker_process_init

    from management.bootstrap import bootstrap
    from management.db import db
    from management.jobs import node
    from management.jobs.celery import app
    from management.jobs.periodic import Scheduler

    settings = get_settings()
    bootstrap(settings)

    @worker_process_init.connect
    def _reconnect(**_kwargs) -> None:  # prefork children must not share the parent's connections
        db.configure(settings.database_url("cloud"), settings.database_url("usage"))

    scheduler = Scheduler("worker")
    scheduler.start()
    concurrency = args.concurrency or os.cpu_count() or 2
    app.worker_main(["worker", "-Q", settings.queue, "--concurrency", str(concurrency), "--pool", args.pool,
                     "-n", f"worker-{node.name()}@%h", "--without-gossip", "--without-mingle",
                     "--loglevel", settings.log_level.upper()])


def apikeys_main(argv: list[str] | None = None) -> None:
    """Log in with a username and password and print (registering if needed) the user's API keys."""
    parser = argparse.ArgumentParser(prog="cloudstack-apikeys", description=apikeys_main.__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8080/client/api")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="password")
    parser.add_argument("--domain", default="/")
    args = parser.parse_args(argv)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def call(params: dict[str, str], post: bool = False) -> dict:
        data = urllib.parse.urlencode(params | {"response": "json"})
        request = urllib.request.Request(args.url, data=data.encode()) if post else \
            urllib.request.Request(f"{args.url}?{data}")
        try:
            with opener.open(request) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as error:
            sys.exit(f"{params['command']} failed: {error.code} {error.read().decode(errors='replace')}")

    login = call({"command": "login", "username": args.username, "password": args.password,
                  "domain": args.domain}, post=True)["loginresponse"]
    key = login["sessionkey"]
    keys = call({"command": "getUserKeys", "id": login["userid"], "sessionkey": key})["getuserkeysresponse"]
    keys = keys.get("userkeys", {})
    if not keys.get("apikey"):
        keys = call({"command": "registerUserKeys", "id": login["userid"], "sessionkey": key})
        keys = keys["registeruserkeysresponse"]["userkeys"]
    call({"command": "logout", "sessionkey": key})
    print(f"apikey={keys['apikey']}\nsecretkey={keys['secretkey']}")
