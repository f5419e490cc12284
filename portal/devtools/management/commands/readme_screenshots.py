from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.devtools.screenshots import readme_screenshots_refresh
from portal.sandbox.config import GENERATIONS


class Command(BaseCommand):
    help = "Start the demo, sign in as alice in chromium and save the README's screenshots."

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, default=settings.BASE_DIR / "docs" / "screenshots")
        parser.add_argument("--tmi-version", choices=GENERATIONS, default="1.8")

    def handle(self, *args, out, tmi_version, **options):
        for path in readme_screenshots_refresh(out_dir=out, tmi_version=tmi_version):
            self.stdout.write(f"saved {path}")
