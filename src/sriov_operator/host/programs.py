"""Running host programs (modprobe, devlink) as argv lists, never through a shell.

Where each runs (``chroot``, ``nsenter``) is `host/placement.py`'s decision.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sriov_operator.host.netns import Netns
from sriov_operator.host.placement import placed_argv


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str = ""
    stderr: str = ""


class CommandRunner(Protocol):
    def __call__(self, argv: Sequence[str]) -> CommandResult: ...


@dataclass(frozen=True)
class HostCommandRunner:
    """Runs a program on the host at ``root`` (resolved), a network program in ``netns`` (None: not given).

    Under ``chroot`` when the root is not ``/``, under ``nsenter`` for a network
    program in a namespace other than this process's; NetnsRequiredError, with
    nothing run, for a network program on a tree without a namespace.
    """

    root: Path
    netns: Netns | None = None
    timeout_seconds: float = 60.0

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        full = placed_argv(argv, self.root, self.netns)
        try:
            done = subprocess.run(
                full, capture_output=True, text=True, timeout=self.timeout_seconds, check=False
            )
        except FileNotFoundError as error:
            return CommandResult(127, "", f"{full[0]}: not found ({error.strerror})")
        except subprocess.TimeoutExpired:
            return CommandResult(124, "", f"{' '.join(full)}: timed out after {self.timeout_seconds:g} s")
        return CommandResult(done.returncode, done.stdout, done.stderr)


def failure(argv: Sequence[str], result: CommandResult) -> str:
    """``<argv> failed (exit N): <what it said>``, for an error message."""
    said = (result.stderr or result.stdout).strip()[:200]
    return f"{' '.join(argv)} failed (exit {result.returncode}): {said}"
