"""`python -m bench <benchmark> [options]`; `python -m bench` alone lists the benchmarks, and
`python -m bench <benchmark> --help` lists a benchmark's options."""

import sys

from bench import auth, export, live_relay, refresh, store

BENCHMARKS = {
    "store": store.main,
    "live": live_relay.main,
    "export": export.main,
    "auth": auth.main,
    "refresh": refresh.main,
}
USAGE = """usage: python -m bench {store,live,export,auth,refresh} [options]

  store       the portfolio store with 1,000 threat models and 50,000 threats in TMI: a cold and an
              incremental sync (TMI calls, seconds, the REST budget), page server time, TMI calls on page views
  live        relay latency and memory of the live-diagram bridge (N simulated browsers)
  export      time and peak memory of PDF reports (a 200-threat model; a 50-model portfolio)
  auth        the auth-flow budget: many members refreshing and 150 signing in, within TMI's limit
  refresh     100 tokens due refreshed by 1 and by 8 Celery workers: seconds, and none refreshed twice

`python -m bench <benchmark> --help` lists a benchmark's options."""


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        print(USAGE, file=sys.stdout if not argv or argv[0] in ("-h", "--help") else sys.stderr)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    BENCHMARKS[argv[0]](argv[1:])
    return 0


sys.exit(main(sys.argv[1:]))
