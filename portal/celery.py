import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.on_after_configure.connect
def _make_broker_folders(sender, **kwargs):
    # kombu's filesystem transport expects its folders to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)
    backend = sender.conf.result_backend or ""
    if backend.startswith("file://"):
        os.makedirs(backend[len("file://") :], exist_ok=True)


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_development_secrets(**kwargs):
    """A worker and beat act for members with their stored TMI tokens: no starting on the public
    development secrets with DEBUG off (portal/deployment.py). SystemExit, because Celery logs and
    ignores an Exception raised by a signal handler."""
    from django.core.exceptions import ImproperlyConfigured

    from portal.deployment import serving_secrets_require

    try:
        serving_secrets_require()
    except ImproperlyConfigured as error:
        raise SystemExit(f"ImproperlyConfigured: {error}") from error


@signals.worker_init.connect
def _warm_before_fork(**kwargs):
    """What every pool process would otherwise build on its first task, built once in the worker's parent and
    inherited: each encrypted field's key (100,000 rounds of PBKDF2, the first time the field is read) and the
    TLS context every TMI client shares (loading the CA bundle: about 25 ms of CPU). Eight cold processes on
    two cores took 2 s over their first refreshes."""
    import django
    from django.apps import apps
    from encrypted_fields.fields import EncryptedFieldMixin

    from portal.tmi._http import shared_tls_context

    if not apps.ready:
        django.setup()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, EncryptedFieldMixin):
                field.f  # noqa: B018 (a cached property: reading it derives the key)
    shared_tls_context()


app.autodiscover_tasks()


@app.task(name="portal.ping")
def ping() -> str:
    """A task that proves a worker is consuming the broker."""
    return "pong"
