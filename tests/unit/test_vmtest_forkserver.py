"""The guest's fork server and its ``sriov-operator`` client (guest/forkserver.py, forkclient.py), run here.

The guest runs every ``sriov-operator`` command through them; what a test in a VM sees
must be what a plain ``python3`` running the command shows: its output, exit status and
end, the process id that stands for it, and the command dying with its client.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sriov_operator.controlplane.pki import create_pki
from sriov_operator.controlplane.process import write_kubeconfig
from sriov_vmtest.recipe import GUEST_DIR
from tests.waiting import eventually_blocking

CLIENT = [sys.executable, "-I", "-S", str(GUEST_DIR / "forkclient.py")]
PLAIN = [sys.executable, "-m", "sriov_operator.cli"]
POLICY_WITH_A_BAD_NUMBER = """\
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodePolicy
metadata: {name: p, namespace: sriov-network-operator}
spec: {resourceName: r, numVfs: many, nodeSelector: {}, nicSelector: {pfNames: [eth0]}}
"""


def _environment(socket_path: Path) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"  # the client's fallback runs python3
    return dict(os.environ, SRIOV_OPERATOR_FORKSERVER=str(socket_path), PATH=path)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str]]]:
    env = _environment(tmp_path / "forkserver.sock")
    process = subprocess.Popen(
        [sys.executable, str(GUEST_DIR / "forkserver.py")], env=env, stdin=subprocess.DEVNULL
    )
    eventually_blocking((tmp_path / "forkserver.sock").exists, "the fork server's socket", 60)
    yield process, env
    process.kill()
    process.wait()


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie has ended), wherever it was re-parented."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _forked_commands(server_pid: int) -> list[int]:
    """Processes whose parent is one of the server's session processes."""
    pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    found = []
    for pid in pids:
        try:
            parent = _parent(pid)
            if parent != server_pid and parent > 1 and _parent(parent) == server_pid:
                found.append(pid)
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
    return found


def _daemon_argv(tmp_path: Path) -> list[str]:
    """A daemon whose API server never answers: it runs (and retries) until it is stopped."""
    write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:9", create_pki(tmp_path / "pki"))
    subprocess.run([*PLAIN, "simulate-host", "--profile", "openstack-vm", "--out", str(tmp_path / "host")],
                   check=True, capture_output=True)  # fmt: skip
    return [
        "daemon", "--node-name", "n1", "--kubeconfig", str(tmp_path / "kubeconfig"),
        "--host-root", str(tmp_path / "host"), "--health-port", "-1",
    ]  # fmt: skip


def test_a_command_gets_the_clients_arguments_streams_directory_and_exit_status(
    server: tuple[subprocess.Popen[bytes], dict[str, str]], tmp_path: Path
) -> None:
    _, env = server
    version = subprocess.run([*CLIENT, "--version"], env=env, capture_output=True, text=True, check=False)
    assert (version.returncode, version.stdout) == (0, "sriov-operator 0.1.0\n")
    (tmp_path / "policy.yaml").write_text(POLICY_WITH_A_BAD_NUMBER)
    forked, plain = (
        subprocess.run(
            [*launcher, "validate", "-f", "policy.yaml"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        for launcher in (CLIENT, PLAIN)
    )
    assert plain.returncode == 1
    assert "spec.numVfs: got 'many'" in plain.stdout
    assert (forked.returncode, forked.stdout, forked.stderr) == (plain.returncode, plain.stdout, plain.stderr)


def test_the_command_runs_in_a_fork_and_dies_with_its_killed_client(
    server: tuple[subprocess.Popen[bytes], dict[str, str]], tmp_path: Path
) -> None:
    process, env = server
    client = subprocess.Popen([*CLIENT, *_daemon_argv(tmp_path)], env=env, stderr=subprocess.DEVNULL)
    commands = eventually_blocking(lambda: _forked_commands(process.pid), "the forked daemon", 60)
    client.kill()
    client.wait()
    eventually_blocking(lambda: not any(map(_running, commands)), f"the forked daemon {commands} to end", 60)


def test_a_stopped_client_stops_its_command_and_ends_as_it_did(
    server: tuple[subprocess.Popen[bytes], dict[str, str]], tmp_path: Path
) -> None:
    process, env = server
    argv = _daemon_argv(tmp_path)
    endings = []
    for launcher in (CLIENT, PLAIN):
        started = subprocess.Popen([*launcher, *argv], env=env, stderr=subprocess.PIPE, text=True)
        assert started.stderr is not None
        log = started.stderr
        eventually_blocking(lambda log=log: "retry in" in log.readline(), "the daemon's first retry", 60)
        started.send_signal(signal.SIGTERM)
        endings.append(started.wait(timeout=120))
    assert endings[0] == endings[1]
    assert not _forked_commands(process.pid)


def test_without_a_server_the_client_runs_the_command_itself(tmp_path: Path) -> None:
    env = _environment(tmp_path / "no-server.sock")
    version = subprocess.run([*CLIENT, "--version"], env=env, capture_output=True, text=True, check=False)
    assert (version.returncode, version.stdout) == (0, "sriov-operator 0.1.0\n")
