"""docker-compose.yml, checked structurally (no Docker engine runs here)."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_part_of_a_deployment_is_a_service(compose):
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat", "tmi", "tmi-sandbox"}


def test_the_portal_services_share_one_image_built_here(compose):
    portal = ["migrate", "web", "worker", "beat", "tmi-sandbox"]
    assert {compose["services"][name]["image"] for name in portal} == {"tmi-portal:latest"}
    assert all(compose["services"][name]["build"] == "." for name in portal)
    assert (ROOT / "Dockerfile").is_file()


@pytest.mark.parametrize("name", ["postgres", "redis", "web", "worker", "tmi", "tmi-sandbox"])
def test_long_running_services_have_health_checks(compose, name):
    check = compose["services"][name]["healthcheck"]
    assert check["test"] and check["interval"] and check["retries"] >= 3


def test_start_order_waits_for_health_and_migrations(compose):
    services = compose["services"]
    for name in ["migrate", "web", "worker", "beat"]:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
    for name in ["web", "worker", "beat"]:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["restart"] == "no"
    # web waits for whichever TMI server the chosen profile starts.
    for tmi in ["tmi", "tmi-sandbox"]:
        assert services["web"]["depends_on"][tmi] == {"condition": "service_healthy", "required": False}


def test_commands_run_daphne_celery_worker_and_beat_with_the_database_scheduler(compose):
    services = compose["services"]
    assert services["web"]["command"][0] == "daphne" and "portal.asgi:application" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "portal", "worker"]
    beat = services["beat"]["command"]
    assert beat[:4] == ["celery", "-A", "portal", "beat"]
    assert "django_celery_beat.schedulers:DatabaseScheduler" in beat
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]


def test_the_portal_is_configured_only_through_the_environment(compose):
    env = compose["services"]["web"]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")  # required, never a default
    assert env["DJANGO_DEBUG"] == "false"


def test_tmi_is_the_real_image_named_by_an_environment_variable_or_the_sandbox(compose):
    tmi = compose["services"]["tmi"]
    assert tmi["image"].startswith("${TMI_IMAGE")
    assert tmi["profiles"] == ["tmi"]
    sandbox = compose["services"]["tmi-sandbox"]
    assert sandbox["profiles"] == ["sandbox"]
    assert sandbox["command"][:3] == ["python", "-m", "portal.sandbox"]  # production settings load no devtools


def test_the_dockerfile_serves_the_asgi_app_as_an_unprivileged_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "USER portal" in dockerfile
    assert '"portal.asgi:application"' in dockerfile


def test_secrets_are_required_and_https_settings_come_from_the_environment(compose):
    env = compose["services"]["web"]["environment"]
    assert env["PORTAL_FIELD_ENCRYPTION_SALT"].startswith("${PORTAL_FIELD_ENCRYPTION_SALT:?")
    for name in (
        "DJANGO_SECURE_SSL_REDIRECT",
        "DJANGO_SECURE_HSTS_SECONDS",
        "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "DJANGO_SECURE_HSTS_PRELOAD",
        "DJANGO_SESSION_COOKIE_SECURE",
        "DJANGO_CSRF_COOKIE_SECURE",
        "DJANGO_SECURE_PROXY_SSL_HEADER",
    ):
        assert env[name].startswith(f"${{{name}:-"), name  # the operator's value, else the plain-HTTP default
    for service in ("worker", "beat", "migrate"):  # one environment for every portal process
        assert compose["services"][service]["environment"] == env


def test_the_image_keeps_no_secret_and_runs_with_debug_off():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "DJANGO_SECRET_KEY" not in dockerfile and "PORTAL_FIELD_ENCRYPTION_SALT" not in dockerfile
    assert "DJANGO_DEBUG" not in dockerfile  # off by default
