"""The same code runs on embedded defaults and on real services, chosen by environment variables."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection


@pytest.mark.django_db
def test_the_database_follows_DATABASE_URL():
    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="PostgreSQL only (CI's second configuration)"
)
@pytest.mark.django_db
def test_postgresql_connections_read_committed_whatever_the_roles_default():
    """A real TMI 1.8 pins its database role to SERIALIZABLE when it starts (ALTER ROLE CURRENT_USER): a portal
    sharing that role must still get the READ COMMITTED its locking is written for."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER ROLE CURRENT_USER SET default_transaction_isolation = 'serializable'")
    try:
        fresh = connection.copy()  # a new session: it would start with the role's default
        with fresh.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            assert cursor.fetchone() == ("read committed",)
        fresh.close()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER ROLE CURRENT_USER RESET default_transaction_isolation")


async def test_the_channel_layer_follows_REDIS_URL_and_delivers_messages():
    layer = get_channel_layer()
    expected = "RedisChannelLayer" if os.environ.get("REDIS_URL") else "InMemoryChannelLayer"
    assert type(layer).__name__ == expected
    channel = await layer.new_channel()
    await layer.group_add("settings-test", channel)
    await layer.group_send("settings-test", {"type": "probe", "text": "hello"})
    assert await layer.receive(channel) == {"type": "probe", "text": "hello"}
    await layer.group_discard("settings-test", channel)


def test_the_celery_broker_follows_REDIS_URL():
    if os.environ.get("REDIS_URL"):
        assert settings.CELERY_BROKER_URL == os.environ["REDIS_URL"]
    else:
        assert settings.CELERY_BROKER_URL == "filesystem://"


# --- Safe by default: DEBUG, the development secrets, the deployment checks ---------------------------

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DJANGO_SECRET_KEY": "a-production-secret-key-of-fifty-or-more-characters-0123456789abcdef",
    "PORTAL_FIELD_ENCRYPTION_SALT": "a-production-field-salt",
    "DJANGO_ALLOWED_HOSTS": "portal.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://portal.example.com",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "DJANGO_SESSION_COOKIE_SECURE": "true",
    "DJANGO_CSRF_COOKIE_SECURE": "true",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
}
# What a user's shell sets for this project, and the test-only keys pytest sets (pyproject.toml).
PORTAL_VARIABLES = {*PRODUCTION, "DJANGO_DEBUG", "DJANGO_SECRET_KEY_FALLBACKS", "DATABASE_CONN_MAX_AGE"}


def fresh_environment(tmp_path, **values: str) -> dict[str, str]:
    """The environment of a new shell: none of the portal's variables unless given here."""
    env = {key: value for key, value in os.environ.items() if key not in PORTAL_VARIABLES}
    env.update(
        {
            "PORTAL_VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "PYTHONUNBUFFERED": "1",
        },
        **values,
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def python(code: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_debug_is_off_unless_DJANGO_DEBUG_asks_for_it(tmp_path):
    show = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    env = fresh_environment(tmp_path, DJANGO_SETTINGS_MODULE="portal.settings")
    assert python(show, env).stdout.strip() == "False"
    assert python(show, {**env, "DJANGO_DEBUG": "true"}).stdout.strip() == "True"


def test_database_connections_are_kept_and_checked_unless_told_otherwise(tmp_path):
    show = (
        "import django; django.setup(); from django.conf import settings; d = settings.DATABASES['default'];"
        " print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )
    env = fresh_environment(tmp_path, DJANGO_SETTINGS_MODULE="portal.settings")
    assert python(show, env).stdout.split() == ["60", "True"]
    assert python(show, {**env, "DATABASE_CONN_MAX_AGE": "0"}).stdout.split() == ["0", "True"]


@pytest.mark.parametrize(
    "development",
    [("DJANGO_SECRET_KEY", "PORTAL_FIELD_ENCRYPTION_SALT"), ("DJANGO_SECRET_KEY",), ("PORTAL_FIELD_ENCRYPTION_SALT",)],
)
def test_daphne_refuses_to_serve_on_a_development_secret_with_debug_off(tmp_path, development):
    """The attack: a deployment that forgot a secret runs on the public default, whose keys decrypt
    every stored TMI token. The real ASGI server must not come up at all."""
    given = {
        name: value
        for name, value in PRODUCTION.items()
        if name in ("DJANGO_SECRET_KEY", "PORTAL_FIELD_ENCRYPTION_SALT") and name not in development
    }
    env = fresh_environment(tmp_path, **given)
    daphne = subprocess.run(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "0", "portal.asgi:application"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert daphne.returncode != 0
    assert "ImproperlyConfigured" in daphne.stderr
    for name in development:
        assert f"{name}" in daphne.stderr.split("ImproperlyConfigured")[-1]
    assert "DJANGO_DEBUG=true" in daphne.stderr  # says how to go on in development


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory) -> str:
    """A DATABASE_URL migrated by `manage.py migrate` in a new shell: nothing set is needed for it."""
    folder = tmp_path_factory.mktemp("fresh")
    url = f"sqlite:///{folder / 'new.sqlite3'}"
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=fresh_environment(folder, DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    return url


def test_development_commands_need_nothing_set(migrated_database):
    """A new checkout runs `manage.py migrate` (above), the sandbox and the demo before setting anything."""
    assert migrated_database


@pytest.mark.parametrize("role", ["worker", "beat"])
def test_celery_refuses_to_start_on_the_development_secrets_with_debug_off(tmp_path, role, migrated_database):
    env = fresh_environment(tmp_path, DATABASE_URL=migrated_database)
    celery = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            role,
            "--loglevel",
            "WARNING",
            *(["--pool", "solo"] if role == "worker" else ["-s", str(tmp_path / "beat")]),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert celery.returncode != 0
    assert "DJANGO_SECRET_KEY and PORTAL_FIELD_ENCRYPTION_SALT are still the public development default" in (
        celery.stdout + celery.stderr
    )


def test_the_asgi_application_loads_with_production_secrets_or_in_development(tmp_path):
    load = "import portal.asgi; print('served')"
    assert python(load, fresh_environment(tmp_path, **PRODUCTION)).stdout.strip() == "served"
    assert python(load, fresh_environment(tmp_path, DJANGO_DEBUG="true")).stdout.strip() == "served"


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_the_documented_production_variables(tmp_path):
    result = check_deploy(fresh_environment(tmp_path, **PRODUCTION))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_names_each_https_setting_left_out(tmp_path):
    secrets_only = {
        k: v
        for k, v in PRODUCTION.items()
        if k in ("DJANGO_SECRET_KEY", "PORTAL_FIELD_ENCRYPTION_SALT", "DJANGO_ALLOWED_HOSTS")
    }
    result = check_deploy(fresh_environment(tmp_path, **secrets_only))
    assert result.returncode != 0
    # HSTS, SSL redirect, secure session cookie, secure CSRF cookie.
    for check_id in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check_id in result.stderr
    assert "portal.E001" not in result.stderr


def test_check_deploy_fails_on_the_development_defaults(tmp_path):
    result = check_deploy(fresh_environment(tmp_path))
    assert result.returncode != 0
    assert "portal.E001" in result.stderr and "security.W009" in result.stderr
    # A real secret key does not hide a development salt.
    salt_only = check_deploy(
        fresh_environment(tmp_path, **{k: v for k, v in PRODUCTION.items() if k != "PORTAL_FIELD_ENCRYPTION_SALT"})
    )
    assert salt_only.returncode != 0
    assert "portal.E001" in salt_only.stderr and "PORTAL_FIELD_ENCRYPTION_SALT" in salt_only.stderr
    assert "security.W009" not in salt_only.stderr


def test_the_proxy_header_and_hsts_come_from_the_environment(tmp_path):
    show = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_PROXY_SSL_HEADER, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    env = fresh_environment(tmp_path, DJANGO_SETTINGS_MODULE="portal.settings")
    assert python(show, {**env, **PRODUCTION}).stdout.strip() == (
        "('HTTP_X_FORWARDED_PROTO', 'https') 31536000 True True True True True"
    )
    assert python(show, env).stdout.strip() == "None 0 False False False False False"
    bad = python(show, {**env, "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"})
    assert bad.returncode != 0 and "DJANGO_SECURE_PROXY_SSL_HEADER" in bad.stderr


@pytest.mark.parametrize(
    ("environment", "backend", "location"),
    [
        ({}, "django.core.cache.backends.locmem.LocMemCache", ""),
        (
            {"REDIS_URL": "redis://127.0.0.1:6379/3"},
            "django.core.cache.backends.redis.RedisCache",
            "redis://127.0.0.1:6379/4",
        ),
        (
            {"REDIS_URL": "redis://127.0.0.1:6379/3", "CACHE_URL": "redis://127.0.0.1:6379/9"},
            "django.core.cache.backends.redis.RedisCache",
            "redis://127.0.0.1:6379/9",
        ),
    ],
)
def test_the_cache_is_shared_by_every_process_when_redis_is_configured(tmp_path, environment, backend, location):
    """Issue 15: with REDIS_URL and no CACHE_URL, every web process and worker shares one Redis cache, in the
    database after the broker's (clearing the cache must not flush Celery's queues)."""
    env = fresh_environment(tmp_path, **environment)
    for name in ("REDIS_URL", "CACHE_URL"):
        if name not in environment:
            env.pop(name, None)
    done = python(
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'portal.settings'); django.setup();"
        "from django.conf import settings; c = settings.CACHES['default'];"
        "print(c['BACKEND']); print(c.get('LOCATION', ''))",
        env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-3:-1] == [backend, location]
