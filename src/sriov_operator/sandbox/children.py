"""The sandbox's child processes (operator, webhook, config daemons): start, watch, stop them all.

Each child logs to ``<log_dir>/<name>.log`` and dies with the sandbox even when
the sandbox is killed (``PR_SET_PDEATHSIG``); a clean stop sends SIGTERM to all
of them at once and SIGKILL to those still running after the grace period.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sriov_operator.controlplane.process import die_with_parent

logger = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 20.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Children:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []

    def spawn(self, name: str, argv: Sequence[str]) -> Child:
        """Start ``argv``; must run on the main thread (the death signal follows the spawning thread)."""
        path = self.log_dir / f"{name}.log"
        with path.open("ab") as log:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, safe after fork
            )
        child = Child(name, process, path)
        self.children.append(child)
        return child

    def exited(self) -> Child | None:
        """The first child that is no longer running, if any."""
        return next((c for c in self.children if c.process.poll() is not None), None)

    def names(self) -> list[str]:
        return [c.name for c in self.children]

    def pids(self) -> list[int]:
        return [c.process.pid for c in self.children]

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        running = [c for c in self.children if c.process.poll() is None]
        for child in running:
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in running:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.0fs of SIGTERM: killing it", child.name, grace)
                child.process.kill()
                child.process.wait()
