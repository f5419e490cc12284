"""What of a demo process's output reaches the terminal: marked lines, errors, a traceback's last line."""

from __future__ import annotations

from pathlib import Path

from portal.devtools.processes import TERMINAL_LINE_MAX, TERMINAL_MARK, TerminalFilter

LOG = Path("/tmp/var/log/worker.log")


def shown(lines: list[str]) -> list[str]:
    terminal = TerminalFilter("Celery worker", LOG)
    return [line for line in (terminal.feed(raw + "\n") for raw in lines) if line is not None]


def test_requests_ticks_and_banners_stay_in_the_log():
    assert (
        shown(
            [
                '127.0.0.1:33464 - - [04/Dec/2026:15:26:11] "GET /static/portal/portal.css" 200 16',
                "[2026-12-04 15:26:28,083: INFO/MainProcess] Scheduler: Sending due task portfolio-sync-due",
                "[2026-12-04 15:26:13,106: WARNING/MainProcess] No hostname was supplied. Reverting to default 'localhost'",
                "2026-12-04 15:31:35,552 INFO daphne.cli: Starting server at tcp:port=8741:interface=127.0.0.1",
                " -------------- celery@vm v5.7.0 (collider)",
            ]
        )
        == []
    )


def test_an_error_is_shown_and_a_traceback_shortened_to_its_last_line():
    assert shown(
        [
            "[2026-12-04 15:30:00,000: ERROR/ForkPoolWorker-1] Task export_job_run_task[1] raised unexpected: OSError()",
            "Traceback (most recent call last):",
            '  File "/x/celery/app/trace.py", line 453, in trace_task',
            "    R = retval = fun(*args, **kwargs)",
            "",
            "OSError: cannot load library 'pango-1.0-0'",
            "[2026-12-04 15:30:01,000: INFO/MainProcess] Task received",
        ]
    ) == [
        "Celery worker: [2026-12-04 15:30:00,000: ERROR/ForkPoolWorker-1] Task export_job_run_task[1] raised "
        "unexpected: OSError()",
        f"Celery worker: OSError: cannot load library 'pango-1.0-0' (the traceback is in {LOG})",
    ]


def test_marked_lines_are_shown_without_the_mark_and_long_lines_are_cut():
    assert shown([TERMINAL_MARK + "Email sent to alice@tmi.local"]) == ["Email sent to alice@tmi.local"]
    (long,) = shown(["2026-12-04 15:31:35,552 ERROR django.request: " + "x" * 5000])
    assert len(long) <= TERMINAL_LINE_MAX and long.endswith("… (whole line in worker.log)")
