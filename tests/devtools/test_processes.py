"""The demo's supervisor: Ctrl-C stops it and its children, however it was started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

SUPERVISED = textwrap.dedent(
    """
    import signal, sys
    # As a shell's `&` leaves it: SIGINT ignored, inherited by everything started from there.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from portal.devtools.processes import Child, supervise
    sleeper = Child(name="sleeper", argv=[sys.executable, "-c", "import time; time.sleep(120)"])
    code = supervise([sleeper], env={}, on_ready=lambda: print("ready", sleeper.process.pid, flush=True))
    print("exit", code, flush=True)
    sys.exit(code)
    """
)


def test_ctrl_c_stops_the_demo_even_when_it_was_started_with_sigint_ignored():
    demo = subprocess.Popen(
        [sys.executable, "-c", SUPERVISED],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        ready = demo.stdout.readline().split()
        assert ready[0] == "ready", ready
        sleeper_pid = int(ready[1])
        os.killpg(demo.pid, signal.SIGINT)
        assert demo.wait(timeout=30) == 0
        printed = demo.stdout.read()
        assert "Stopping the demo." in printed and "exit 0" in printed, printed
        time.sleep(0.2)
        try:
            os.kill(sleeper_pid, 0)
        except ProcessLookupError:
            pass
        else:
            raise AssertionError("the supervised child outlived the demo")
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
