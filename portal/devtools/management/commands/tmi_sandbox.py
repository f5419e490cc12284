from django.core.management.base import BaseCommand

from portal.sandbox import cli


class Command(BaseCommand):
    help = "Run the TMI sandbox (a stand-in TMI server) in the foreground."

    def add_arguments(self, parser):
        cli.add_arguments(parser)

    def handle(self, *args, **options):
        cli.serve(options, out=self.stdout)
