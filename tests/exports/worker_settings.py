"""Settings for worker processes started by the export tests: the project's, with media in the test's folder."""

import os

from portal.settings import *  # noqa: F403

MEDIA_ROOT = os.environ["PORTAL_TEST_MEDIA_ROOT"]
# Tasks a worker sends (an export after a scheduled fire, a retry) stay on the test's own queue.
CELERY_TASK_DEFAULT_QUEUE = os.environ["PORTAL_TEST_QUEUE"]
