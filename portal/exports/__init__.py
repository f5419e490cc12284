"""Export jobs and schedules, run by Celery workers; the token-refresh task."""
