"""Heartbeats: when beat last scheduled the heartbeat task, and when a worker last ran it.

Kept in the database, not the cache: beat, the workers and the web processes are separate processes.
"""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    BEAT = "beat"
    WORKER = "worker"

    name = models.CharField(max_length=32, unique=True)  # "beat" or "worker"
    seen_at = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True)  # e.g. the worker's hostname

    def __str__(self) -> str:
        return f"{self.name} {self.seen_at:%Y-%m-%d %H:%M:%S}"
