"""The Celery app: Redis (or any kombu broker) for real installs, a file-system broker embedded.

Messages only carry job ids: the job row is the truth, committed before the message is sent.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from celery import Celery

from management.settings import Settings

log = logging.getLogger(__name__)
QUEUE = "management"

app = Celery("cloudstack",
             include=["management.jobs.tasks", "management.storage.tasks", "management.infra.agent_tasks"])
app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    task_publish_retry=True,
    task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.3, "interval_max": 1},
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    broker_heartbeat=0,
)


def configure(settings: Settings) -> Celery:
    url = settings.celery_broker_url()
    options: dict = {"visibility_timeout": 3600}
    if url.startswith("filesystem://"):
        folder = Path(settings.data_dir) / "broker"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "control").mkdir(exist_ok=True)
        options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "polling_interval": 0.05,
                   "store_processed": False, "control_folder": str(folder / "control")}
        app.conf.update(broker_transport="agent.link:AtomicFilesystemTransport")  # atomic message files
    app.conf.update(broker_url=url, broker_transport_options=options, task_default_queue=settings.queue,
                    task_default_routing_key=settings.queue)
    return app


class EmbeddedWorker:
    """A Celery worker on threads inside this process (the embedded default's one-process mode).

    A watchdog starts a new worker if the running one stops by itself (a Celery worker that meets an
    unrecoverable error ends its thread), so jobs never wait on a dead in-process worker."""

    def __init__(self, concurrency: int = 4, check_every: float = 2.0) -> None:
        self.concurrency, self.check_every = concurrency, check_every
        self.controller = None
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.watchdog = threading.Thread(target=self._watch, name="celery-embedded-watchdog", daemon=True)

    def start(self) -> None:
        self._start_worker()
        self.watchdog.start()

    def _start_worker(self) -> None:
        self.controller = app.WorkController(pool_cls="threads", concurrency=self.concurrency,
                                             queues=[app.conf.task_default_queue],
                                             without_heartbeat=True, without_mingle=True, without_gossip=True,
                                             loglevel="WARNING", logfile=None, hostname=f"embedded@{id(self)}")
        self.thread = threading.Thread(target=self.controller.start, name="celery-embedded", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stopping.wait(self.check_every):
            if self.thread is not None and not self.thread.is_alive():
                log.error("the in-process job worker stopped; starting a new one")
                self._start_worker()

    def stop(self) -> None:
        self.stopping.set()
        if self.controller is not None:
            self.controller.stop(in_sighandler=False)
        if self.thread is not None:
            self.thread.join(timeout=10)
