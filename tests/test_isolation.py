"""tests/isolation.py: what keeps pytest-xdist workers apart."""

from __future__ import annotations

from tests.isolation import isolate


def test_each_worker_gets_its_own_var_dir_and_redis_databases(tmp_path):
    env = {
        "PORTAL_VAR_DIR": str(tmp_path),
        "REDIS_URL": "redis://127.0.0.1:6379/5",
        "CACHE_URL": "redis://127.0.0.1:6379/6",
    }
    first, second = dict(env), dict(env)
    isolate("gw0", first)
    isolate("gw1", second)
    assert first == {**env, "PORTAL_VAR_DIR": str(tmp_path / "xdist-gw0")}
    assert second["PORTAL_VAR_DIR"] == str(tmp_path / "xdist-gw1")
    assert (second["REDIS_URL"], second["CACHE_URL"]) == ("redis://127.0.0.1:6379/7", "redis://127.0.0.1:6379/8")


def test_embedded_defaults_stay_embedded(tmp_path):
    env = {"PORTAL_VAR_DIR": str(tmp_path), "CACHE_URL": "locmemcache://"}
    isolate("gw3", env)
    assert env == {"PORTAL_VAR_DIR": str(tmp_path / "xdist-gw3"), "CACHE_URL": "locmemcache://"}
    assert "REDIS_URL" not in env


def test_a_redis_url_without_a_database_number_means_database_0(tmp_path):
    env = {"PORTAL_VAR_DIR": str(tmp_path), "REDIS_URL": "redis://:secret@redis:6379"}
    isolate("gw2", env)
    assert env["REDIS_URL"] == "redis://:secret@redis:6379/4"
