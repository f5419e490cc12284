import json
import os
import subprocess
import sys

PROBE = """
import gc, json
default = gc.get_threshold()
import portal.asgi
print(json.dumps({"default": default, "serving": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


def test_serving_freezes_what_loading_made_and_runs_full_collections_ten_times_rarer(tmp_path):
    env = {**os.environ, "PORTAL_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "portal.settings"}
    run = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    seen = json.loads(run.stdout)
    assert seen["serving"] == [*seen["default"][:2], seen["default"][2] * 10]
    assert seen["frozen"] > 10_000  # Django and the apps, out of every collection
