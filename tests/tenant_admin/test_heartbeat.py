"""Heartbeats for the health panel: beat's when it publishes the task, a worker's when it runs it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.signals import before_task_publish
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from portal.tenant_admin.heartbeat import HEARTBEAT_TASK, heartbeat_record, heartbeat_states
from portal.tenant_admin.models import Heartbeat
from portal.tenant_admin.tasks import heartbeat

pytestmark = pytest.mark.django_db


def test_beat_has_the_heartbeat_on_its_database_schedule():
    task = PeriodicTask.objects.get(task=HEARTBEAT_TASK)
    assert task.enabled and task.interval.every == 60 and task.interval.period == "seconds"


def test_publishing_the_heartbeat_is_beats_heartbeat_and_other_tasks_are_not():
    before_task_publish.send(sender="portal.ping", body=(), headers={})
    assert not Heartbeat.objects.exists()
    before_task_publish.send(sender=HEARTBEAT_TASK, body=(), headers={})
    beat = Heartbeat.objects.get(name="beat")
    assert timezone.now() - beat.seen_at < timedelta(seconds=5)


def test_running_the_task_is_the_workers_heartbeat():
    heartbeat.apply()
    worker = Heartbeat.objects.get(name="worker")
    assert worker.detail and timezone.now() - worker.seen_at < timedelta(seconds=5)


def test_states_in_words():
    now = timezone.now()
    heartbeat_record(name="worker", at=now - timedelta(seconds=40))
    heartbeat_record(name="beat", at=now - timedelta(minutes=10))
    worker, beat = heartbeat_states(now=now)
    assert worker.healthy and worker.words == "Last seen 40 s ago"
    assert not beat.healthy and beat.words == "No heartbeat for 10 min — is the scheduler (beat) running?"
