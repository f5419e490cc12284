"""Keeps pytest-xdist workers out of each other's way (loaded with `-p tests.isolation`, before the settings).

Each worker process is a test run of its own, so what a run owns must be its own too:
- PORTAL_VAR_DIR: the SQLite test database, media and exports, the filesystem Celery broker's folders, mail;
- the Redis databases of REDIS_URL (channel layer, Celery broker) and CACHE_URL: worker N uses the configured
  database number plus 2 x N, so `cache.clear()` (a FLUSHDB) or a Celery worker in one run never touches
  another's. With CI's 5 and 6, worker gw1 uses 7 and 8.
PostgreSQL needs nothing: pytest-django already names each worker's test database apart (test_portal_gw1).
The processes tests start (daphne, Celery, the demo) inherit the environment, so they follow.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REDIS_DATABASES_PER_WORKER = 2


def _shifted_redis_url(url: str, offset: int) -> str:
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + offset
    return urlunsplit(parts._replace(path=f"/{database}"))


def isolate(worker: str, environ: os._Environ | dict) -> None:
    index = int(worker.removeprefix("gw"))
    base = Path(environ.get("PORTAL_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")
    environ["PORTAL_VAR_DIR"] = str(base / f"xdist-{worker}")
    for name in ("REDIS_URL", "CACHE_URL"):
        url = environ.get(name, "")
        if url.startswith(("redis://", "rediss://")):
            environ[name] = _shifted_redis_url(url, REDIS_DATABASES_PER_WORKER * index)


_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    isolate(_worker, os.environ)
