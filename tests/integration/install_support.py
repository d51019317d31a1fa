"""The install tests' shared parts: documented commands run in a shell with the built helm and kubectl,
and the operator and webhook run as processes the way their pods would run them (no kubelet here)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sriov_operator.api.constants import WEBHOOK_SERVING_SECRET
from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.controlplane.tools import DeployTools
from tests.docs_examples import Example
from tests.support import REPO_ROOT
from tests.waiting import eventually_blocking

OPERATOR = "sriov-network-operator"
WAIT_SECONDS = 120.0


@dataclass
class Shell:
    cwd: Path
    env: dict[str, str]
    dry_runs: dict[str, int] = field(default_factory=dict)

    def run(self, command: str) -> str:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{done.stdout}"
        return done.stdout

    def block(self, block: Example, replace: Mapping[str, str] | None = None) -> list[str]:
        """Run every command of a documented ``sh`` block; their outputs."""
        assert block.language == "sh", block.where
        outputs = []
        for documented in block.commands():
            command = documented
            for old, new in (replace or {}).items():
                command = command.replace(old, new)
            outputs.append(self.run(command))
        return outputs

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        scope = f" -n {namespace}" if namespace else ""
        return dict(json.loads(self.run(f"kubectl get {kind} {name}{scope} -o json")))

    def exists(self, kind: str, name: str, namespace: str | None = None) -> bool:
        scope = f" -n {namespace}" if namespace else ""
        return self.run(f"kubectl get {kind} {name}{scope} --ignore-not-found -o name").strip() != ""

    def dry_run(self, name: str, output: str, rendered: str = "preview.yaml") -> int:
        """Every object of ``rendered`` accepted by the server-side dry run whose output is ``output``."""
        objects = [doc for doc in yaml.safe_load_all((self.cwd / rendered).read_text()) if doc]
        accepted = [line for line in output.splitlines() if line.endswith("(server dry run)")]
        assert len(accepted) == len(objects), f"{name}: {len(objects)} objects rendered, accepted:\n{output}"
        self.dry_runs[name] = len(accepted)
        return len(accepted)


def shell_for(tools: DeployTools, plane: ControlPlane, cwd: Path) -> Shell:
    """A shell in ``cwd`` (``deploy/`` linked as in a checkout) with helm and kubectl first on PATH."""
    (cwd / "deploy").symlink_to(REPO_ROOT / "deploy")  # the document's paths, relative to a checkout
    env = dict(os.environ)
    env["PATH"] = f"{tools.helm.parent}{os.pathsep}{env.get('PATH', '')}"
    env["KUBECONFIG"] = str(plane.kubeconfig)
    for name in ("CACHE", "CONFIG", "DATA"):
        env[f"HELM_{name}_HOME"] = str(cwd / ".helm" / name.lower())
    return Shell(cwd, env)


def pod_environment(shell: Shell, namespace: str, pod_name: str) -> dict[str, str]:
    """The operator container's environment as the installed Deployment gives it to its pod."""
    deployment = shell.get("deployment", OPERATOR, namespace)
    fields = {"metadata.namespace": namespace, "metadata.name": pod_name}
    env = {}
    for entry in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
        source = entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        env[entry["name"]] = fields[source] if source else entry.get("value", "")
    return env


@dataclass
class Processes:
    """The operator and the webhook, run as their pods would run them, with the webhook served on
    127.0.0.1 (``--webhook-url``): the API server cannot reach a Service without a kubelet."""

    shell: Shell
    plane: ControlPlane
    namespace: str
    workdir: Path
    webhook_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str]) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "sriov_operator.cli", *argv], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        log.close()

    def start_operator(self, kubeconfig: Path) -> None:
        """As the installed Deployment's pod: its environment, its ServiceAccount's token."""
        env = {**os.environ, **pod_environment(self.shell, self.namespace, f"{OPERATOR}-test")}
        argv = [
            "operator",
            "--kubeconfig", str(kubeconfig),
            "--health-port", str(self.health_port),
            "--webhook-url", f"https://127.0.0.1:{self.webhook_port}",
            "--webhook-cert-ip", "127.0.0.1",
        ]  # fmt: skip
        self._spawn("operator", argv, env)

    def start_webhook(self) -> None:
        """Once the operator has written the serving Secret: serve it on 127.0.0.1."""
        tls = self.workdir / "webhook-tls"
        tls.mkdir(exist_ok=True)

        def secret() -> dict[str, str] | None:
            found = self.shell.run(
                f"kubectl get secret {WEBHOOK_SERVING_SECRET} -n {self.namespace} --ignore-not-found -o json"
            )
            data = json.loads(found).get("data", {}) if found.strip() else {}
            return data if data.get("tls.crt") and data.get("tls.key") else None

        data = eventually_blocking(secret, "the operator's webhook serving Secret")
        for name in ("tls.crt", "tls.key"):
            (tls / name).write_bytes(base64.b64decode(data[name]))
        argv = [
            "webhook",
            "--namespace", self.namespace,
            "--kubeconfig", str(self.plane.kubeconfig),
            "--health-port", "-1",
            "--address", "127.0.0.1",
            "--port", str(self.webhook_port),
            "--tls-cert", str(tls / "tls.crt"),
            "--tls-key", str(tls / "tls.key"),
        ]  # fmt: skip
        self._spawn("webhook", argv, os.environ)

    def stop(self, name: str) -> None:
        """SIGTERM, as the kubelet stops a pod being deleted; the process must exit."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(
                f"{name} ignored SIGTERM for 30s; log: {self.workdir / f'{name}.log'}"
            ) from None

    def check(self) -> None:
        for name, process in self.running.items():
            assert process.poll() is None, (
                f"{name} exited: {(self.workdir / f'{name}.log').read_text()[-3000:]}"
            )

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


@contextmanager
def processes(shell: Shell, plane: ControlPlane, namespace: str, workdir: Path) -> Iterator[Processes]:
    running = Processes(shell, plane, namespace, workdir)
    try:
        yield running
    finally:
        for process in running.running.values():
            process.kill()
            process.wait()


def rendered_objects(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]
