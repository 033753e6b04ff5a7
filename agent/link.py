"""The agent's link to the management servers: a Celery worker on its own queue, and the reply channel.

* Commands arrive on the queue ``agent.<guid>`` as the task ``agent.execute`` (one ``Envelope`` JSON); the
  agent runs them through its driver on a small thread pool and pushes the ``Answer`` straight into the
  reply channel of the request (below) — never through a management task, so no management worker ever
  waits on another management task.
* At start, and whenever the management server asks (task ``agent.request_startup``, sent when it gets a
  ping from a host it does not know as connected), the agent sends its ``StartupReport`` as the task
  ``management.agent.startup`` to the management queue (``management.queue``, default ``management``); every ``ping.interval`` it sends a
  ``PingReport`` (all VM power states) as ``management.agent.ping``.
* The agent never touches the database.

Reply channel, keyed by the request id:

* Redis broker: the agent ``RPUSH``es the answer JSON to ``cloudstack:reply:<request_id>`` (expiring after
  ``REPLY_TTL`` s); the caller ``BLPOP``s it with its timeout.
* file-system broker (the embedded mode): the agent writes ``<broker folder>/replies/<request_id>.json``
  (atomically: temporary file + rename); the caller polls for it. The broker folder is
  ``<data dir>/broker`` of the management server.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path

from celery import Celery
from kombu.transport import filesystem as kombu_filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps
from pydantic import ValidationError
from redis.exceptions import TimeoutError as RedisTimeout

from agent.hypervisor.base import HypervisorDriver, HypervisorError
from agent.protocol import Answer, Envelope, PingReport, StartupReport

log = logging.getLogger(__name__)

MANAGEMENT_QUEUE = "management"
STARTUP_TASK = "management.agent.startup"
PING_TASK = "management.agent.ping"
EXECUTE_TASK = "agent.execute"
REQUEST_STARTUP_TASK = "agent.request_startup"
REPLY_PREFIX = "cloudstack:reply:"
REPLY_TTL = 600  # seconds an unread answer is kept


class _AtomicFilesystemChannel(kombu_filesystem.Channel):
    """kombu's file-system channel writes a message file in place, so a consumer in another process can
    take it while it is still empty (and its worker dies on the JSON error). Here the message is written
    to a hidden temporary file and renamed into the queue folder: readers see whole messages only."""

    def _put(self, queue, payload, **kwargs):
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        temporary = os.path.join(self.data_folder_out, f".{name}.tmp")  # not a message name: never read
        with open(temporary, "wb") as f:
            f.write(str_to_bytes(dumps(payload)))
        os.replace(temporary, os.path.join(self.data_folder_out, name))


class AtomicFilesystemTransport(kombu_filesystem.Transport):
    """The file-system broker of the embedded mode, with atomic message writes (``broker_transport``)."""

    Channel = _AtomicFilesystemChannel


FILESYSTEM_TRANSPORT = "agent.link:AtomicFilesystemTransport"


def agent_queue(guid: str) -> str:
    return f"agent.{guid}"


def broker_options(url: str) -> tuple[str, dict]:
    """(kombu URL, transport options) for a broker URL or a file-system broker folder."""
    if url.startswith("filesystem://") or "://" not in url:
        folder = Path(url.removeprefix("filesystem://"))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "control").mkdir(exist_ok=True)
        return "filesystem://", {"data_folder_in": str(folder), "data_folder_out": str(folder),
                                 "polling_interval": 0.05, "store_processed": False,
                                 "control_folder": str(folder / "control")}
    return url, {"visibility_timeout": 3600}


class ReplyChannel:
    """Where answers travel from an agent to the caller waiting for them (see the module docstring)."""

    def __init__(self, broker_url: str | None = None, folder: Path | None = None) -> None:
        self.folder = folder
        self.redis = None
        if folder is None:
            if not broker_url or not broker_url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(f"no reply channel for broker {broker_url!r}: use Redis or the file-system broker")
            import redis

            self.redis = redis.Redis.from_url(broker_url)
        else:
            self.folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def for_broker(cls, url: str) -> ReplyChannel:
        if url.startswith("filesystem://") or "://" not in url:
            folder = Path(url.removeprefix("filesystem://"))
            return cls(folder=folder / "replies")
        return cls(broker_url=url)

    def put(self, request_id: str, payload: str) -> None:
        if self.redis is not None:
            key = REPLY_PREFIX + request_id
            with self.redis.pipeline() as pipe:
                pipe.rpush(key, payload)
                pipe.expire(key, REPLY_TTL)
                pipe.execute()
            return
        final = self.folder / f"{request_id}.json"
        temporary = self.folder / f".{request_id}.{os.getpid()}.tmp"
        temporary.write_text(payload, encoding="utf-8")
        os.replace(temporary, final)

    def get(self, request_id: str, timeout: float) -> str | None:
        """The answer to ``request_id``, waiting up to ``timeout`` seconds; None if none came."""
        if self.redis is not None:
            # BLPOP takes whole seconds on old servers; wait in slices so short timeouts stay short.
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                try:
                    item = self.redis.blpop([REPLY_PREFIX + request_id], timeout=max(0.1, min(left, 5.0)))
                except RedisTimeout:  # redis-py 8 may raise instead of returning None when BLPOP times out
                    continue
                if item is not None:
                    return item[1].decode()
        path = self.folder / f"{request_id}.json"
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(delay)
                delay = min(delay * 1.5, 0.1)
                continue
            path.unlink(missing_ok=True)
            return text

    def purge(self, older_than: float = REPLY_TTL) -> int:
        """Remove answers nobody read (file-system channel; Redis keys expire by themselves)."""
        if self.folder is None:
            return 0
        removed, limit = 0, time.time() - older_than
        for path in self.folder.iterdir():
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed


def execute(driver: HypervisorDriver, envelope: Envelope) -> Answer:
    """Run one command through ``driver``; failures become ``ok=False`` answers with the reason."""
    command, rid = envelope.command, envelope.request_id
    try:
        data = command.run(driver) or {}
        return Answer(request_id=rid, ok=True, data=data)
    except HypervisorError as error:
        return Answer(request_id=rid, ok=False, details=str(error))
    except Exception as error:  # never let a command kill the worker thread without an answer
        log.exception("command %s (%s) failed", command.kind, rid)
        return Answer(request_id=rid, ok=False, details=f"{type(error).__name__}: {error}")


def _request_id_of(envelope_json: str) -> str | None:
    try:
        value = json.loads(envelope_json).get("request_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


class AgentLink:
    """One agent: its Celery app (own queue only), its driver, the pinger thread."""

    def __init__(self, config, driver: HypervisorDriver, version: str | None = None) -> None:
        self.config, self.driver, self.version = config, driver, version
        self.queue = agent_queue(config.guid)
        url, options = broker_options(config.broker_url)
        self.replies = ReplyChannel.for_broker(config.broker_url)
        self.app = Celery(f"cloudstack-agent-{config.guid}")
        self.app.conf.update(
            broker_url=url, broker_transport_options=options,
            broker_transport=FILESYSTEM_TRANSPORT if url == "filesystem://" else None, task_default_queue=self.queue,
            task_ignore_result=True, worker_prefetch_multiplier=1, task_acks_late=False,
            broker_connection_retry_on_startup=True, broker_heartbeat=0, worker_hijack_root_logger=False,
            worker_redirect_stdouts=False, task_publish_retry=True,
            task_publish_retry_policy={"max_retries": 3, "interval_start": 0, "interval_step": 0.5,
                                       "interval_max": 2})
        self.answered: OrderedDict[str, str] = OrderedDict()  # request id -> answer JSON (replayed on duplicates)
        self.answered_lock = threading.Lock()
        self.stop_event = threading.Event()

        @self.app.task(name=EXECUTE_TASK, ignore_result=True)
        def execute_task(envelope_json: str) -> None:
            self._execute_task(envelope_json)

        @self.app.task(name=REQUEST_STARTUP_TASK, ignore_result=True)
        def request_startup_task() -> None:
            self.send_startup()

    # --- tasks ---------------------------------------------------------------------------------------

    def _execute_task(self, envelope_json: str) -> None:
        try:
            envelope = Envelope.model_validate_json(envelope_json)
        except ValidationError as error:  # a command this agent does not know (an older agent) or a bad one
            request_id = _request_id_of(envelope_json)
            if request_id:
                reason = "; ".join(e["msg"] for e in error.errors())
                self.replies.put(request_id, Answer(request_id=request_id, ok=False,
                                                    details=f"Agent refused the command: {reason}").model_dump_json())
            return
        with self.answered_lock:
            previous = self.answered.get(envelope.request_id)
        if previous is None:
            started = time.monotonic()
            answer = execute(self.driver, envelope)
            previous = answer.model_dump_json()
            log.info("%s %s: %s in %.2fs %s", envelope.command.kind, envelope.request_id,
                     "ok" if answer.ok else "failed", time.monotonic() - started, answer.details)
            with self.answered_lock:
                self.answered[envelope.request_id] = previous
                while len(self.answered) > 256:
                    self.answered.popitem(last=False)
        self.replies.put(envelope.request_id, previous)

    # --- reports -------------------------------------------------------------------------------------

    def startup_report(self) -> StartupReport:
        report = self.driver.host_info(self.config.guid, self.config.name)
        return report.model_copy(update={
            "hypervisor": "KVM",  # the simulator driver fakes a KVM host: the server cannot tell
            "private_ip": self.config.private_ip, "agent_version": self.version,
            "zone_uuid": self.config.zone, "pod_uuid": self.config.pod, "cluster_uuid": self.config.cluster})

    def send_startup(self) -> None:
        report = self.startup_report()
        self.app.send_task(STARTUP_TASK, args=[report.model_dump_json()], queue=self.config.management_queue)
        log.info("sent startup report of %s (%s)", self.config.name, self.config.guid)

    def send_ping(self) -> None:
        try:
            states = self.driver.vm_states()
        except HypervisorError as error:
            log.warning("cannot read VM states: %s", error)
            return  # no ping: a host whose hypervisor is unreachable should go to Alert
        ping = PingReport(guid=self.config.guid, vm_states=states)
        self.app.send_task(PING_TASK, args=[ping.model_dump_json()], queue=self.config.management_queue,
                           expires=max(5.0, self.config.ping_interval * 3))

    def _pinger(self) -> None:
        first = True
        while not self.stop_event.is_set():
            try:
                if first:
                    self.send_startup()
                    first = False
                else:
                    self.send_ping()
            except HypervisorError as error:  # no report rather than a wrong one: the server waits for the next
                log.warning("cannot read this host's VMs for the ping: %s", error)
            except Exception:
                log.exception("cannot reach the broker; retrying")
            self.stop_event.wait(self.config.ping_interval)

    # --- running -------------------------------------------------------------------------------------

    def run(self, loglevel: str = "INFO") -> None:
        """Run until SIGTERM/SIGINT: the pinger thread and the Celery worker on this agent's queue."""
        pinger = threading.Thread(target=self._pinger, name="agent-pinger", daemon=True)
        pinger.start()
        try:
            self.app.worker_main(["worker", "-Q", self.queue, "--pool", "threads", "--concurrency",
                                  str(self.config.workers), "-n", f"agent-{self.config.guid}@%h",
                                  "--without-gossip", "--without-mingle", "--without-heartbeat",
                                  "--loglevel", loglevel])
        finally:
            self.stop_event.set()
            self.driver.close()
