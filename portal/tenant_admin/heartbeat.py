"""Worker and beat heartbeats for the health panel.

Beat sends `portal.heartbeat` every minute (a django-celery-beat PeriodicTask made by migration
0002): the moment beat publishes it is beat's heartbeat (recorded by a `before_task_publish`
handler, connected in apps.py); the moment a worker runs it is the worker's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from portal.tenant_admin.models import Heartbeat

HEARTBEAT_TASK = "portal.heartbeat"
HEARTBEAT_EVERY_SECONDS = 60
# Three missed beats before the panel worries.
STALE_AFTER = timedelta(seconds=3 * HEARTBEAT_EVERY_SECONDS)


def heartbeat_record(*, name: str, detail: str = "", at: datetime | None = None) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": at or timezone.now(), "detail": detail[:200]})


def on_task_publish(sender=None, **kwargs) -> None:
    """Celery's before_task_publish: only the heartbeat task counts, whoever publishes it (beat in production)."""
    if sender == HEARTBEAT_TASK:
        heartbeat_record(name=Heartbeat.BEAT)


@dataclass(frozen=True)
class HeartbeatState:
    name: str
    seen_at: datetime | None
    healthy: bool
    words: str


def _duration(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 90:
        return _("%(n)s s") % {"n": seconds}
    if seconds < 90 * 60:
        return _("%(n)s min") % {"n": seconds // 60}
    return _("%(n)s h") % {"n": seconds // 3600}


def heartbeat_states(*, now: datetime | None = None) -> list[HeartbeatState]:
    now = now or timezone.now()
    seen = {h.name: h.seen_at for h in Heartbeat.objects.all()}
    labels = {Heartbeat.WORKER: _("worker"), Heartbeat.BEAT: _("scheduler (beat)")}
    states = []
    for name in (Heartbeat.WORKER, Heartbeat.BEAT):
        at = seen.get(name)
        if at is None:
            words = _("No heartbeat yet — is the %(what)s running?") % {"what": labels[name]}
            states.append(HeartbeatState(name, None, False, words))
            continue
        age = now - at
        if age > STALE_AFTER:
            words = _("No heartbeat for %(duration)s — is the %(what)s running?") % {
                "duration": _duration(age),
                "what": labels[name],
            }
            states.append(HeartbeatState(name, at, False, words))
        else:
            states.append(
                HeartbeatState(name, at, True, _("Last seen %(duration)s ago") % {"duration": _duration(age)})
            )
    return states
