"""Celery tasks of the admin area: thin, the work is in heartbeat.py."""

from __future__ import annotations

import socket

from celery import shared_task

from portal.tenant_admin.heartbeat import HEARTBEAT_TASK, heartbeat_record
from portal.tenant_admin.models import Heartbeat


@shared_task(name=HEARTBEAT_TASK, ignore_result=True)
def heartbeat() -> None:
    heartbeat_record(name=Heartbeat.WORKER, detail=socket.gethostname())
