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

app = Celery("cloudstack", include=["management.jobs.tasks", "management.storage.tasks"])
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
    app.conf.update(broker_url=url, broker_transport_options=options, task_default_queue=settings.queue,
                    task_default_routing_key=settings.queue)
    return app


class EmbeddedWorker:
    """A Celery worker on threads inside this process (the embedded default's one-process mode)."""

    def __init__(self, concurrency: int = 4) -> None:
        self.concurrency = concurrency
        self.controller = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.controller = app.WorkController(pool_cls="threads", concurrency=self.concurrency,
                                             queues=[app.conf.task_default_queue],
                                             without_heartbeat=True, without_mingle=True, without_gossip=True,
                                             loglevel="WARNING", logfile=None, hostname=f"embedded@{id(self)}")
        self.thread = threading.Thread(target=self.controller.start, name="celery-embedded", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop(in_sighandler=False)
        if self.thread is not None:
            self.thread.join(timeout=10)
