"""The demo's environment: DEBUG off, and secrets of its own that survive a restart."""

import pytest

from portal.deployment import DEVELOPMENT_FIELD_SALT, DEVELOPMENT_SECRET_KEY
from portal.devtools.demo_secrets import DEMO_SECRETS_FILE, demo_environment, demo_secrets_get


def test_the_demos_secrets_are_made_once_and_kept(tmp_path):
    first = demo_secrets_get(tmp_path)
    assert len(first["DJANGO_SECRET_KEY"]) >= 50 and len(first["PORTAL_FIELD_ENCRYPTION_SALT"]) >= 20
    assert first["DJANGO_SECRET_KEY"] != DEVELOPMENT_SECRET_KEY
    assert (tmp_path / DEMO_SECRETS_FILE).stat().st_mode & 0o777 == 0o600
    # A restart reads the same ones, so the tokens the demo stored stay readable.
    assert demo_secrets_get(tmp_path) == first
    # Another checkout (another var/) gets different ones.
    assert demo_secrets_get(tmp_path / "other") != first


def test_a_damaged_secrets_file_is_an_error_in_words(tmp_path):
    (tmp_path / DEMO_SECRETS_FILE).write_text('{"DJANGO_SECRET_KEY": ""}')
    with pytest.raises(ValueError, match="remove it to make new ones"):
        demo_secrets_get(tmp_path)


def test_the_demo_runs_with_debug_off_on_its_own_secrets(tmp_path):
    env = demo_environment({"DJANGO_DEBUG": "true", "PATH": "/bin"}, var_dir=tmp_path, host="127.0.0.1")
    assert env["DJANGO_DEBUG"] == "false" and env["PATH"] == "/bin"
    assert {env["DJANGO_SECRET_KEY"], env["PORTAL_FIELD_ENCRYPTION_SALT"]} == set(demo_secrets_get(tmp_path).values())


def test_the_development_defaults_are_replaced_and_an_operators_own_secrets_kept(tmp_path):
    defaults = demo_environment(
        {"DJANGO_SECRET_KEY": DEVELOPMENT_SECRET_KEY, "PORTAL_FIELD_ENCRYPTION_SALT": DEVELOPMENT_FIELD_SALT},
        var_dir=tmp_path,
        host="127.0.0.1",
    )
    assert defaults["DJANGO_SECRET_KEY"] == demo_secrets_get(tmp_path)["DJANGO_SECRET_KEY"]
    assert defaults["PORTAL_FIELD_ENCRYPTION_SALT"] == demo_secrets_get(tmp_path)["PORTAL_FIELD_ENCRYPTION_SALT"]
    own = demo_environment(
        {"DJANGO_SECRET_KEY": "k" * 60, "PORTAL_FIELD_ENCRYPTION_SALT": "s1,s0"},
        var_dir=tmp_path / "unused",
        host="127.0.0.1",
    )
    assert own["DJANGO_SECRET_KEY"] == "k" * 60 and own["PORTAL_FIELD_ENCRYPTION_SALT"] == "s1,s0"
    assert not (tmp_path / "unused" / DEMO_SECRETS_FILE).exists()


def test_the_demos_host_is_allowed_unless_the_operator_lists_hosts(tmp_path):
    assert demo_environment({}, var_dir=tmp_path, host="0.0.0.0")["DJANGO_ALLOWED_HOSTS"] == (
        "127.0.0.1,localhost,0.0.0.0"
    )
    listed = demo_environment({"DJANGO_ALLOWED_HOSTS": "demo.example"}, var_dir=tmp_path, host="0.0.0.0")
    assert listed["DJANGO_ALLOWED_HOSTS"] == "demo.example"
