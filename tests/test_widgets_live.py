"""The live explorers' shared machinery: stale background work stops, also when the interpreter exits."""

import subprocess
import sys
import textwrap

_EXITS_WHILE_A_WORKER_RUNS = textwrap.dedent(
    """
    import time

    import torch

    from optimlab.widgets.live import LatestOnly

    latest = LatestOnly()
    generation = latest.start()


    def work():
        a = torch.randn(200, 200)
        while True:
            latest.check(generation)
            a = torch.tanh(a @ a)


    latest.run_in_background(generation, work)
    time.sleep(0.3)
    """
)


def test_the_interpreter_exits_cleanly_while_a_worker_is_inside_torch():
    done = subprocess.run(
        [sys.executable, "-c", _EXITS_WHILE_A_WORKER_RUNS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "terminate called" not in done.stderr
