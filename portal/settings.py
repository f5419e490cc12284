"""Settings. Production differs from development only by environment variables.

Embedded defaults need nothing installed: SQLite, the in-memory channel layer and a
filesystem Celery broker. DATABASE_URL and REDIS_URL switch to the real services.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

from portal.deployment import DEVELOPMENT_FIELD_SALT, DEVELOPMENT_SECRET_KEY, proxy_ssl_header

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

# Off unless asked for (DJANGO_DEBUG=true, on a development machine only).
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The defaults are public. With DEBUG off the portal's servers refuse them (portal/deployment.py); the
# demo makes and keeps its own (portal/devtools/demo_secrets.py).
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS: set in production (behind TLS); `manage.py check --deploy` lists what is missing ---------------
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
# /healthz/ answers container health checks over plain HTTP inside the deployment.
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_ENGINE = "portal.accounts.sessions"
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=False)
# Behind a TLS-terminating proxy: "HTTP_X_FORWARDED_PROTO,https" (the header the proxy sets, and its value
# for HTTPS). Only when that proxy always sets or strips the header, or clients could claim HTTPS.
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default=""))

# --- Content-Security-Policy (django-csp; portal/security_headers.py adds the page's own socket origin) -----
# No inline script anywhere; an inline <style> only with the request's nonce (the organisation's colour).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "csp",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "social_django",
    "django_celery_beat",
    # Locks out repeated wrong passwords at Django admin's login (the portal itself signs in through TMI).
    "axes",
    "portal.organizations",
    "portal.accounts",
    "portal.portfolio",
    "portal.dashboard",
    "portal.audit",
    "portal.live",
    "portal.reports",
    "portal.exports",
    "portal.tenant_admin",
    # `manage.py tmi_conformance`: an operator checks a TMI server against what the portal relies on.
    "portal.conformance",
]
# The demo, the sandbox's management command and the README screenshots (portal/devtools) are for development
# machines: a deployment with secrets of its own does not load them (nor, through them, the sandbox) unless
# PORTAL_DEVTOOLS=true says so.
PORTAL_DEVTOOLS = env.bool("PORTAL_DEVTOOLS", default=DEBUG or SECRET_KEY == DEVELOPMENT_SECRET_KEY)
if PORTAL_DEVTOOLS:
    INSTALLED_APPS.append("portal.devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Every response after static files: its Content-Security-Policy, and no caching of a signed-in page.
    "portal.security_headers.ContentSecurityPolicyMiddleware",
    "portal.security_headers.PrivateCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lock-out into its 429 page
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.accounts.context_processors.tmi_sign_in_needed",
            ],
            # `display_text` in every template: text from TMI without bidi or control characters.
            "builtins": ["portal.display_filters"],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Write transactions take SQLite's lock at BEGIN, so the token vault's lease (taken under select_for_update,
    # a no-op on SQLite) is still taken by one process at a time. WAL: readers (pages) never wait for a writer
    # (a worker), nor a writer for readers.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not shared-cache memory, so test threads and processes lock it as production does.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The portal's locking (the vault's row lock, select_for_update) is written for READ COMMITTED. Said on
    # every connection, because a role's default can differ: a real TMI 1.8 pins its own database role to
    # SERIALIZABLE (ALTER ROLE CURRENT_USER) when it starts, and a portal sharing that role would then fail
    # its concurrent refreshes with "could not serialize access".
    from psycopg import IsolationLevel

    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("isolation_level", IsolationLevel.READ_COMMITTED)
# Connections are kept and reused (checked before reuse): opening one costs more than most queries the live
# bridge makes (SQLite's PRAGMAs, PostgreSQL's handshake). 0 closes each after its request or task.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
# Only organisation logos are served from here (portal/tenant_admin/logos.py); export files have their own gated view.
MEDIA_URL = "/media/"

REDIS_URL = env.str("REDIS_URL", default="")


# Django's cache holds what several web processes must agree on: rate-limit counts (sign-in starts, Test
# connection) and each organisation's TMI sign-in options. CACHE_URL chooses it, e.g. redis://redis:6379/2 (its own
# Redis database: clearing the cache flushes that database). Without CACHE_URL: with REDIS_URL, the database after
# REDIS_URL's (shared by every web process and worker); with neither, local memory (one process).
def _cache_url_default(redis_url: str) -> str:
    if not redis_url:
        return "locmemcache://"
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(redis_url)
    db = int((parts.path or "/0").strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{db + 1}"))


CACHES = {"default": env.cache_url("CACHE_URL", default=_cache_url_default(REDIS_URL))}

# Channels: Redis when configured, else the in-memory layer (one process only).
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Celery: Redis when configured, else kombu's filesystem transport, which lets a real
# worker process share a queue with the web process with nothing installed.
CELERY_BROKER_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # A message a worker took but never acknowledged (it died) goes back to the queue after this
    # long. Longer than the longest export, or a slow export is delivered twice (harmless: a job is
    # claimed once, see portal/exports/running.py), and short enough that a lost run recovers soon.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "portal.embedded_broker:Transport"  # each message written whole before it is seen
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        # A worker looks for new messages this often when its queue is empty (kombu's default is 1 s). Each task
        # a busy worker takes next waits up to this long (a share of beat's refreshes, an export): 0.1 s cost the
        # refresh bench's one worker 0.4 s of its 1 s; an idle worker's looking costs 0.5% of a core.
        "polling_interval": 0.02,
    }
    CELERY_RESULT_BACKEND = f"file://{CELERY_BROKER_DIR / 'results'}"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Synced into django-celery-beat's tables by its DatabaseScheduler; export schedules add their own rows.
CELERY_BEAT_SCHEDULE = {
    "tmi-tokens-refresh-due": {"task": "portal.accounts.tasks.tmi_tokens_refresh_due", "schedule": 60.0},
    "export-jobs-reap": {"task": "portal.exports.tasks.export_jobs_reap", "schedule": 60.0},
    "export-files-expire": {"task": "portal.exports.tasks.export_files_expire", "schedule": 3600.0},
    "portfolio-sync-due": {"task": "portal.portfolio.tasks.portfolio_sync_due", "schedule": 15.0},
    "portfolio-history-expire": {"task": "portal.portfolio.tasks.portfolio_history_expire", "schedule": 86400.0},
}

# --- The portfolio store (portal/portfolio/sync.py) ------------------------------------------------------------
# Each organisation is synced when its last pass is this old (beat looks every 15 s): with the default, a change
# in TMI reaches the pages within about a minute.
PORTAL_SYNC_SECONDS = env.int("PORTAL_SYNC_SECONDS", default=30)
# Every model is read whole (not only its changed threats) when the last full pass is this old.
PORTAL_FULL_SYNC_SECONDS = env.int("PORTAL_FULL_SYNC_SECONDS", default=6 * 3600)
# A member's visible set (the models TMI lists for them) is read again when older than this, while they are active.
PORTAL_VISIBLE_SET_SECONDS = env.int("PORTAL_VISIBLE_SET_SECONDS", default=60)
# A member who opened a page within this long is active: the sync reads with their token and refreshes their set.
PORTAL_ACTIVE_MEMBER_SECONDS = env.int("PORTAL_ACTIVE_MEMBER_SECONDS", default=900)
# Run a requested sync at once in the requesting process instead of a worker: the tests' default, not production's.
PORTAL_SYNC_INLINE = env.bool("PORTAL_SYNC_INLINE", default=False)
# Change rows and daily snapshots older than this are deleted.
PORTAL_HISTORY_DAYS = env.int("PORTAL_HISTORY_DAYS", default=400)
# A member's page views with no gap longer than this are one visit: "since your last visit" counts from the visit before.
PORTAL_VISIT_GAP_SECONDS = env.int("PORTAL_VISIT_GAP_SECONDS", default=1800)
# How many days the trend charts cover (overview, trends page, model page, portfolio PDF).
PORTAL_TREND_DAYS = env.int("PORTAL_TREND_DAYS", default=90)
# "What to do next" (portfolio/flags.py): a critical threat open longer than this many days is flagged, and a
# threat model in which nothing changed for this many days.
PORTAL_CRITICAL_OPEN_DAYS = env.int("PORTAL_CRITICAL_OPEN_DAYS", default=30)
PORTAL_STALE_MODEL_DAYS = env.int("PORTAL_STALE_MODEL_DAYS", default=90)

# --- Exports and email ----------------------------------------------------------------------------
EXPORT_FILE_DAYS = env.int("EXPORT_FILE_DAYS", default=7)  # then the PDF is deleted
# Transient TMI trouble: the job is queued again with a countdown (the worker is free meanwhile), up to
# EXPORT_MAX_ATTEMPTS runs in all; TMI's Retry-After is honoured up to EXPORT_RETRY_MAX_SECONDS, otherwise a
# backoff from EXPORT_RETRY_BASE_SECONDS doubling up to it (exports/running.py).
EXPORT_MAX_ATTEMPTS = env.int("EXPORT_MAX_ATTEMPTS", default=4)
EXPORT_RETRY_BASE_SECONDS = env.float("EXPORT_RETRY_BASE_SECONDS", default=10.0)
EXPORT_RETRY_MAX_SECONDS = env.float("EXPORT_RETRY_MAX_SECONDS", default=300.0)
# A running job whose worker has not reported for this long is taken over (its worker died).
EXPORT_STALE_SECONDS = env.int("EXPORT_STALE_SECONDS", default=300)
# A job still queued this long after it was (last) sent lost its message before any worker took it: send again.
EXPORT_QUEUED_LOST_SECONDS = env.int("EXPORT_QUEUED_LOST_SECONDS", default=600)
# A queued or running export whose worker has not been seen for this long says "Waiting for a worker"
# (the worker's heartbeat comes once a minute, so a little more than a minute).
EXPORT_WORKER_QUIET_SECONDS = env.int("EXPORT_WORKER_QUIET_SECONDS", default=90)
EXPORT_ATTACH_MAX_BYTES = env.int("EXPORT_ATTACH_MAX_BYTES", default=2_000_000)  # larger PDFs: link only
TMI_REFRESH_WINDOW_SECONDS = env.int("TMI_REFRESH_WINDOW_SECONDS", default=300)
# How long TMI keeps a refresh token after issuing it (1.8.22: 7 days, also its absolute session cap; 0.217.8: 30):
# beat renews the refresh token of a member whose schedules run as them a day before it would lapse.
TMI_REFRESH_TOKEN_DAYS = env.int("TMI_REFRESH_TOKEN_DAYS", default=7)
# Beat hands the tokens due out in shares, one task each: as many per TMI server as its calls at once
# (tmi_max_concurrency), none larger than this (accounts/refresh.py).
TMI_REFRESH_SHARE_MAX = env.int("TMI_REFRESH_SHARE_MAX", default=25)
# Where links in emails point (no request to take the host from in a worker).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="TMI Portal <portal@localhost>")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)

# Encrypted fields (TMI tokens, client secrets): keys derive from SECRET_KEY and this salt.
# Rotate by prepending a new salt (a comma-separated list) or by SECRET_KEY_FALLBACKS.
SALT_KEY = env.list("PORTAL_FIELD_ENCRYPTION_SALT", default=[DEVELOPMENT_FIELD_SALT])
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])

# TMI: how long a call may take, and how often it is retried when that is safe.
TMI_TIMEOUT_SECONDS = env.float("TMI_TIMEOUT_SECONDS", default=10.0)
TMI_MAX_RETRIES = env.int("TMI_MAX_RETRIES", default=2)
# The first retry waits about this long, each next one twice as long (with jitter), unless TMI says Retry-After.
TMI_RETRY_BASE_SECONDS = env.float("TMI_RETRY_BASE_SECONDS", default=0.5)
# The auth-flow budget per TMI server (organizations/tmi_budget.py): code exchanges and refreshes in any 60 s,
# across all processes (a real TMI allows 100 per client address), and the share kept for sign-ins.
PORTAL_TMI_AUTH_CALLS_PER_MINUTE = env.int("PORTAL_TMI_AUTH_CALLS_PER_MINUTE", default=100)
PORTAL_TMI_AUTH_RESERVE_PERCENT = env.int("PORTAL_TMI_AUTH_RESERVE_PERCENT", default=20)
# The portfolio sync's REST calls per TMI server in any 60 s, across all processes (portfolio/sync.py). A real
# 1.8.22 does not rate-limit REST; this keeps a cold sync of a large portfolio from flooding it.
PORTAL_TMI_REST_CALLS_PER_MINUTE = env.int("PORTAL_TMI_REST_CALLS_PER_MINUTE", default=3000)
# A refresh TMI refuses with 429 waits its Retry-After and tries again, up to this long in all (vault.py).
TMI_REFRESH_RATE_LIMIT_WAIT_SECONDS = env.float("TMI_REFRESH_RATE_LIMIT_WAIT_SECONDS", default=30.0)
# The TMI servers tenants may use (portal/organizations/tmi_servers.py), comma-separated: "public" (any
# public address), host names (exact), IP addresses or CIDR networks, each optionally with ":port". Loopback,
# private, link-local and shared addresses are refused unless listed; metadata services always are.
# Without "public", only the listed servers are allowed. E.g. "tmi.corp.example:443,10.20.0.0/16".
PORTAL_TMI_ALLOWED_SERVERS = env.list("PORTAL_TMI_ALLOWED_SERVERS", default=["public"])
# The sign-in page's provider list is kept this long per organisation (anonymous views do not call TMI each time).
PORTAL_TMI_PROVIDERS_CACHE_SECONDS = env.int("PORTAL_TMI_PROVIDERS_CACHE_SECONDS", default=300)
# "Test connection" in the tenant admin: at most this many a minute per organisation, and per user.
PORTAL_TMI_TESTS_PER_MINUTE = env.int("PORTAL_TMI_TESTS_PER_MINUTE", default=5)
# A page (overview, list, threat model, live page) waits on TMI this long in all, retries included:
# then it says TMI is busy or not answering (portal/accounts/deadlines.py). Sign-out's revocation
# waits this long, without retries, and signs out here whatever TMI said.
PORTAL_TMI_PAGE_DEADLINE_SECONDS = env.float("PORTAL_TMI_PAGE_DEADLINE_SECONDS", default=10.0)
PORTAL_TMI_SIGNOUT_SECONDS = env.float("PORTAL_TMI_SIGNOUT_SECONDS", default=3.0)

# --- Social auth (signing in through TMI) -------------------------------------------------------
# One backend, "tmi" (portal/accounts/backend.py): each organisation signs in at its own TMI server.
# The pipeline (portal/accounts/pipeline.py) decides membership before writing anything and hands
# TMI's tokens to the token vault; social-auth's UserSocialAuth row never holds a token.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out admin login before any password check
    "portal.accounts.backend.TMIOAuth2",
    "django.contrib.auth.backends.ModelBackend",  # Django admin for platform superusers
]
SOCIAL_AUTH_URL_NAMESPACE = "social"
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "portal.accounts.pipeline.user_identify",
    "portal.accounts.pipeline.membership_require",
    "portal.accounts.pipeline.move_apply",  # an owner's move to another TMI server (accounts/moving.py)
    "portal.accounts.pipeline.relink_apply",  # a member's re-link after a move
    "portal.accounts.pipeline.username_pick",  # unique in any case; never the one of an existing user
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "portal.accounts.pipeline.membership_grant",
    "portal.accounts.pipeline.tokens_store",
)  # no load_extra_data: tokens go to the vault only
SOCIAL_AUTH_TMI_EXTRA_DATA: list = []
SOCIAL_AUTH_USER_FIELDS = ["username", "email", "first_name", "last_name"]
# TMI keeps an authorize request's state for 10 minutes; ours lives as long.
SOCIAL_AUTH_TMI_STATE_LIFETIME = 600
SOCIAL_AUTH_SANITIZE_REDIRECTS = True
SOCIAL_AUTH_LOGIN_REDIRECT_URL = "/"
SOCIAL_AUTH_LOGIN_ERROR_URL = "/"
SOCIAL_AUTH_REDIRECT_IS_HTTPS = env.bool("SOCIAL_AUTH_REDIRECT_IS_HTTPS", default=False)
# Sign-in starts (each asks TMI and keeps an OAuth state) per minute, per browser session and per client
# address (portal/accounts/signin.py); more get a "Too many sign-in attempts" page (429). Counted in
# Django's cache: one web process, or a shared cache for several.
PORTAL_SIGNIN_STARTS_PER_MINUTE = env.int("PORTAL_SIGNIN_STARTS_PER_MINUTE", default=10)
PORTAL_SIGNIN_STARTS_PER_MINUTE_PER_ADDRESS = env.int("PORTAL_SIGNIN_STARTS_PER_MINUTE_PER_ADDRESS", default=30)

# --- Django admin's password login: lock-out (django-axes) -----------------------------------------
# After AXES_FAILURE_LIMIT wrong passwords for one username from one IP address, that pair is refused
# (HTTP 429, even with the right password) for AXES_COOLOFF_MINUTES; other users and addresses are not.
# The client address is REMOTE_ADDR: behind a proxy, have the proxy set it (as for the audit log).
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_ONLY_ADMIN_SITE = True  # portal sign-ins go through TMI and have their own limit (accounts/signin.py)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# No row per successful login (axes' AccessLog would record every portal sign-in too, with IP and browser):
# the audit log records sign-ins; axes keeps only the failures it counts.
AXES_DISABLE_ACCESS_LOG = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Each line says its level and logger: a reader (and the demo's terminal, which shows errors only) can tell.
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes.apps only prints its start-up banner; axes' lock-out lines come from its other loggers.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}, "axes.apps": {"level": "WARNING"}},
}
