"""Running host programs (modprobe, devlink) as argv lists, never through a shell."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str = ""
    stderr: str = ""


class CommandRunner(Protocol):
    def __call__(self, argv: Sequence[str]) -> CommandResult: ...


@dataclass(frozen=True)
class HostCommandRunner:
    """Runs a program on the host; inside a pod whose host root is not ``/`` it runs under ``chroot``."""

    root: Path
    timeout_seconds: float = 60.0

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        full = list(argv) if self.root == Path("/") else ["chroot", str(self.root), *argv]
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
