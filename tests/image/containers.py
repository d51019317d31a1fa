"""Run a pod's container from the image on this machine, and what a kubelet hands the pod."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.image.kubelet import Object, PodPlacement, run_args
from tests.image.podman import ImageToolingError, Podman, ulimit_args


def write_service_account(directory: Path, token: str, ca_cert: Path, namespace: str) -> Path:
    """The files a kubelet projects into a pod for its ServiceAccount (readable by any user)."""
    directory.mkdir(parents=True)
    directory.chmod(0o755)
    (directory / "token").write_text(token)
    shutil.copyfile(ca_cert, directory / "ca.crt")
    (directory / "namespace").write_text(namespace)
    for path in directory.iterdir():
        path.chmod(0o644)
    return directory


class RunningContainer:
    """One ``podman run`` in the foreground of a child process; its output goes to ``log``."""

    def __init__(self, podman: Podman, name: str, args: list[str], log: Path) -> None:
        self.podman, self.name, self.log = podman, name, log
        self.process = podman.popen(["run", *ulimit_args(), *args], log)

    def exited(self) -> int | None:
        return self.process.poll()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def check_running(self) -> None:
        """Fail with the container's output when it is no longer running."""
        code = self.process.poll()
        if code is not None:
            raise ImageToolingError(f"container {self.name} exited with {code}:\n{self.output()[-3000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            with contextlib.suppress(ImageToolingError):
                self.podman.run("stop", "--time", "20", self.name)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


@contextlib.contextmanager
def running_container(
    podman: Podman, pod_spec: Object, container: Object, placement: PodPlacement, log: Path
) -> Iterator[RunningContainer]:
    args = run_args(pod_spec, container, placement, container["image"])
    name = f"{placement.pod_name}-{container['name']}"
    podman.run("rm", "--force", "--ignore", name)  # one left by an interrupted run
    running = RunningContainer(podman, name, args, log)
    try:
        yield running
    finally:
        running.stop()
