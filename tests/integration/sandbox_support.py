"""Run ``sriov-operator sandbox`` as a user does, as a subprocess, for the tests that need it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

SANDBOX = [sys.executable, "-m", "sriov_operator.cli", "sandbox"]
START_SECONDS = 300  # a loaded 2-core machine; the sandbox itself gives up after --timeout
ENV = dict(os.environ, PYTHONUNBUFFERED="1")


@contextmanager
def running_sandbox(*args: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """The sandbox started with ``args``, once it printed "press Ctrl-C" (its output so far)."""
    process = subprocess.Popen(
        [*SANDBOX, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "press Ctrl-C" in line or not line:
                break
        assert "press Ctrl-C" in lines[-1], "".join(lines)
        yield process, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
