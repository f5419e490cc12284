"""The demo's environment: DEBUG off, as in production, on a secret key and field-encryption salt of its own.

The demo's secrets are made once, at random, and kept in `<PORTAL_VAR_DIR>/demo-secrets.json` (var/ is
never committed), so the TMI tokens the demo stores stay decryptable across restarts. An operator's own
DJANGO_SECRET_KEY / PORTAL_FIELD_ENCRYPTION_SALT, when set to something other than the public development
default, are used instead.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from portal.deployment import development_secrets_in_use

DEMO_SECRETS_FILE = "demo-secrets.json"
SECRET_NAMES = ("DJANGO_SECRET_KEY", "PORTAL_FIELD_ENCRYPTION_SALT")


def demo_secrets_get(var_dir: Path) -> dict[str, str]:
    """The demo's secrets from var_dir, made and written there (readable by this user only) the first time."""
    path = Path(var_dir) / DEMO_SECRETS_FILE
    made = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "PORTAL_FIELD_ENCRYPTION_SALT": secrets.token_urlsafe(24)}
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two demos starting at once, one writes and both read the same secrets.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        kept = json.loads(path.read_text())
        if not all(isinstance(kept.get(name), str) and kept[name] for name in SECRET_NAMES):
            raise ValueError(
                f"{path} does not hold the demo's secrets; remove it to make new ones "
                "(tokens the demo stored with the old ones can then not be read)."
            ) from None
        return {name: kept[name] for name in SECRET_NAMES}
    with os.fdopen(descriptor, "w") as file:
        json.dump(made, file)
    return made


def demo_environment(environ: Mapping[str, str], *, var_dir: Path, host: str) -> dict[str, str]:
    """The environment of the demo's processes: the caller's, with DEBUG off, the secrets (the operator's
    own, else the demo's), and the demo's host among the allowed ones unless the operator listed them."""
    env = {**environ, "DJANGO_DEBUG": "false", "PYTHONUNBUFFERED": "1"}
    given = {name: environ[name] for name in SECRET_NAMES if environ.get(name)}
    still_default = development_secrets_in_use(
        secret_key=given.get("DJANGO_SECRET_KEY", ""), salts=given.get("PORTAL_FIELD_ENCRYPTION_SALT", "").split(",")
    )
    missing = [name for name in SECRET_NAMES if name not in given or name in still_default]
    if missing:
        kept = demo_secrets_get(var_dir)
        env.update({name: kept[name] for name in missing})
    if not environ.get("DJANGO_ALLOWED_HOSTS"):
        env["DJANGO_ALLOWED_HOSTS"] = ",".join(dict.fromkeys(["127.0.0.1", "localhost", host]))
    return env
