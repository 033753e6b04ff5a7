"""Celery tasks: thin wrappers that hand the job id to the job runner."""

from __future__ import annotations

from management.jobs.celery import app


@app.task(name="management.jobs.run", acks_late=True)
def run_job(job_id: int) -> None:
    from management.jobs import runner

    runner.run(job_id)
