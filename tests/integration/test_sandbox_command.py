"""`sriov-operator sandbox`: the whole system on one machine, as a user runs it (its own control plane).

Each test runs the command as a subprocess, non-interactively, and checks what a
user sees: its output, the cluster through the kubeconfig it wrote (with
kubectl), the simulated hosts, and that no process outlives it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from sriov_operator.cli import build_parser
from sriov_operator.host.pci import read_pci_function
from sriov_operator.host.root import HostRoot
from sriov_operator.sandbox.hosts import DPDK_PORT, OFFLOAD_PORT
from tests.doc_runner import output_matches, run_console
from tests.docs_examples import REPO_ROOT, example
from tests.integration.sandbox_support import ENV, SANDBOX, START_SECONDS, running_sandbox

KUBECTL = "/usr/bin/kubectl"
NAMESPACE = "sriov-network-operator"
METADATA_SOURCE = "sriovnetwork.openshift.io/metadata-source"  # where the daemon read the VM's ports


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children of children included), from /proc."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(children - found)
            found |= children
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies reaped by nobody count as gone)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def port_is_closed(url: str) -> bool:
    match = re.search(r":(\d+)$", url)
    assert match, url
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", int(match.group(1)))) != 0


def kubectl(kubeconfig: Path, *args: str) -> str:
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def sandbox_to_exit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SANDBOX, *args], capture_output=True, text=True, timeout=START_SECONDS, check=False, env=ENV
    )


def generalized(shown: str) -> str:
    """A documented session with what varies between runs left open (``…``): times, ports, versions,
    UUIDs, paths, and the progress rows (their order depends on which node finishes first; the tests
    check the final rows themselves)."""
    lines = shown.splitlines()
    if any(line.startswith("NODE ") for line in lines):
        first = next(i for i, line in enumerate(lines) if line.startswith("NODE "))
        last = next(i for i, line in enumerate(lines) if re.match(r"all \d+ NodeStates Succeeded", line))
        lines[first:last] = ["…"]
    text = "\n".join(lines) + "\n"
    for pattern in (
        r"\[ *\d+\.\ds\]",
        r"in \d+\.\ds",
        r"v\d+\.\d+\.\d+",
        r"127\.0\.0\.1:\d+",
        r"(?<=VM )[0-9a-f-]{36}",
        r"(?<=daemon-<node>\.log)[^)]*",  # whether the logs are kept depends on --workdir
        r"(?<=[ (])/\S+(?=/(hosts|logs)/)",
        r"(?<= )(/|~)\S*kubeconfig",
        r"(?<=bound it to node )worker-\d+",  # either worker offers the resources
    ):
        text = re.sub(pattern, "…", text)
    return text


def scripts_own_lines(shown: str) -> tuple[list[str], str]:
    """The lines scripts/sandbox prints before the sandbox command starts, and the rest."""
    lines = shown.splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith("["))
    return [line.rstrip("\n") for line in lines[:first]], "".join(lines[first:])


def final_rows(out: str) -> dict[str, str]:
    """Each worker's last printed table row."""
    return {m[1]: m[0] for m in re.finditer(r"^(worker-\d+) +\S.*$", out, re.MULTILINE)}


def test_until_synced_brings_two_vms_to_succeeded_with_the_examples(tmp_path: Path) -> None:
    """The quickstart's captured run: exit 0, the table, the summary, and the hosts configured."""
    [(command, shown)] = example("quickstart-run").transcript()
    kubeconfig, workdir = tmp_path / "kubeconfig", tmp_path / "sandbox"
    words = shlex.split(command)
    assert words[:2] == ["sriov-operator", "sandbox"], command
    result = sandbox_to_exit(
        *words[2:], "--timeout", "240", "--kubeconfig", str(kubeconfig), "--workdir", str(workdir)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert output_matches(generalized(shown), out), f"printed:\n{out}\ndocumented:\n{shown}"
    assert re.search(r"^NODE +SYNC +DEVICES +DRIVERS +RESOURCES$", out, re.MULTILINE), out
    rows = final_rows(out)
    for worker in ("worker-0", "worker-1"):
        assert re.fullmatch(rf"{worker} +Succeeded +4 \(2 configured\) +\S+=vfio-pci ens7=mlx5_core +"
                            r"dpdk1=1 hwoffload1=1", rows[worker]), rows  # fmt: skip
    assert "the webhook injected requests/limits openshift.io/dpdk1: 1, openshift.io/hwoffload1: 1" in out
    assert "metadata service http://127.0.0.1:" in out and "config drive" in out  # one VM each
    for worker in ("worker-0", "worker-1"):
        root = HostRoot(workdir / "hosts" / worker)
        assert read_pci_function(root, DPDK_PORT).driver == "vfio-pci"
        assert read_pci_function(root, OFFLOAD_PORT).driver == "mlx5_core"
        assert (workdir / "logs" / f"daemon-{worker}.log").stat().st_size > 0
    url = re.search(r"kube-apiserver v1\.\d+\.\d+ at (https://127\.0\.0\.1:\d+)", out)
    assert url, out
    assert port_is_closed(url.group(1)), "the API server still listens after the sandbox exited"


def test_quickstart_commands_use_real_flags_and_scripts_sandbox_defaults_to_the_readme_session() -> None:
    commands = example("quickstart-start").commands()
    assert [shlex.split(c, comments=True)[0] for c in commands] == [
        "scripts/sandbox",
        "source",
        "sriov-operator",
    ]
    assert shlex.split(commands[1], comments=True) == [
        "source",
        ".venv/bin/activate",
    ]  # what bootstrap.sh makes
    assert os.access(REPO_ROOT / "scripts/sandbox", os.X_OK)
    assert "defaults=(--workers 2 --apply-examples)" in (REPO_ROOT / "scripts/sandbox").read_text()
    words = shlex.split(commands[2], comments=True)
    args = build_parser().parse_args(words[1:])
    assert (args.command, args.workers, args.until_synced) == ("sandbox", 10, True)


def test_the_readme_session_then_the_quickstart_kubectl_commands_then_sigterm_leaves_no_process(
    tmp_path: Path,
) -> None:
    """What scripts/sandbox prints (the README), what kubectl shows (the quickstart), and a clean stop."""
    [(command, shown)] = example("sandbox-session").transcript()
    assert command == "scripts/sandbox"
    script_lines, shown = scripts_own_lines(shown)
    scripts = (REPO_ROOT / "scripts/bootstrap.sh").read_text() + (REPO_ROOT / "scripts/sandbox").read_text()
    for line in script_lines:  # what the scripts echo before the sandbox starts, $VENV shown as /…/.venv
        assert line.replace("/…/.venv", "$VENV") in scripts, line
    kubeconfig = tmp_path / "kubeconfig"
    with running_sandbox("--workers", "2", "--apply-examples", "--kubeconfig", str(kubeconfig)) as (
        process,
        lines,
    ):
        printed = "".join(lines)
        assert output_matches(generalized(shown), printed), f"printed:\n{printed}\ndocumented:\n{shown}"
        metrics = re.search(
            r"^metrics \(and /healthz, /readyz\): operator (http://127\.0\.0\.1:\d+/metrics)", printed, re.M
        )
        assert metrics, printed
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
        with direct.open(metrics.group(1), timeout=30) as answer:
            assert b"sriov_operator_api_writes_total" in answer.read()
        why_env = {"KUBECONFIG": str(kubeconfig)}
        run_console(example("quickstart-why"), tmp_path, env=why_env)
        [export, *kubectl_commands] = example("quickstart-kubectl").commands()
        assert export == "export KUBECONFIG=~/.cache/sriov-operator/sandbox/kubeconfig"
        outputs = {}
        for line in kubectl_commands:
            words = shlex.split(line)
            assert words[0] == "kubectl", line
            outputs[words[1] + " " + words[2]] = kubectl(kubeconfig, *words[1:])
        states = outputs["get sriovnetworknodestates"]
        assert re.search(r"worker-0 +Succeeded", states) and re.search(r"worker-1 +Succeeded", states), states
        assert re.search(r"dpdk1 +dpdk1 +99 +1 +2 +2", outputs["get sriovnetworknodepolicies"])
        described = outputs["describe node"]
        assert re.search(r"Allocatable:(\n .*)*\n +openshift\.io/dpdk1: +1", described), described
        assert "dpdk1-net" in outputs["get network-attachment-definitions"]
        resources = json.loads(outputs["get pod"])
        assert resources["limits"] == {"openshift.io/dpdk1": "1", "openshift.io/hwoffload1": "1"}
        assert (
            "network-resources-injector-config"
            in outputs["get validatingwebhookconfigurations,mutatingwebhookconfigurations"]
        )
        for name, source in (("worker-0", "metadataService"), ("worker-1", "configDrive")):
            state = kubectl(kubeconfig, "get", "sriovnetworknodestate", name, "-n", NAMESPACE, "-o", "json")
            assert json.loads(state)["metadata"]["annotations"][METADATA_SOURCE] == source
        node = json.loads(kubectl(kubeconfig, "get", "node", "worker-0", "-o", "json"))
        assert node["spec"]["providerID"].startswith("openstack:///")
        run_console(example("quickstart-why-broken"), tmp_path, env=why_env)  # last: it adds a network
        children = descendants(process.pid)
        assert len(children) >= 6, children  # etcd, kube-apiserver, operator, webhook, two daemons
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0
        assert alive(children) == set(), "processes outlived the sandbox"


def test_a_child_that_dies_stops_the_sandbox_with_the_reason(tmp_path: Path) -> None:
    workdir = ["--workdir", str(tmp_path / "sandbox")]  # kept after a failure: inside tmp_path, not /tmp
    with running_sandbox("--workers", "1", "--kubeconfig", str(tmp_path / "kc"), *workdir) as (process, _):
        operator = next(
            pid
            for pid in descendants(process.pid)
            if b"\x00operator\x00" in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
        children = descendants(process.pid)
        os.kill(operator, signal.SIGKILL)
        assert process.wait(timeout=120) == 1
        assert process.stdout is not None
        rest = process.stdout.read()
        assert re.search(
            r"sriov-operator sandbox: operator exited with code -9 \(log: \S+operator\.log\)", rest
        ), rest
        assert alive(children) == set(), "processes outlived the sandbox"


def test_until_synced_fails_with_the_reason_after_the_timeout(tmp_path: Path) -> None:
    kept = ["--workdir", str(tmp_path / "sandbox")]  # kept after a failure: inside tmp_path, not /tmp
    result = sandbox_to_exit("--until-synced", "--timeout", "1", "--kubeconfig", str(tmp_path / "kc"), *kept)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(
        r"^sriov-operator sandbox: timed out after 1s waiting for .+$", result.stderr, re.MULTILINE
    ), result.stderr


def test_until_synced_names_the_failing_node_and_its_error_on_timeout(tmp_path: Path) -> None:
    """A worker whose host refuses the daemon's device records: the sandbox says which node and why."""
    workdir = tmp_path / "sandbox"
    argv = [
        "--workers",
        "1",
        "--apply-examples",
        "--until-synced",
        "--timeout",
        "60",
        "--workdir",
        str(workdir),
    ]
    process = subprocess.Popen(
        [*SANDBOX, *argv, "--kubeconfig", str(tmp_path / "kc")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    host = workdir / "hosts" / "worker-0"
    deadline = time.monotonic() + START_SECONDS
    while not (host / "sys").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    records = host / "etc/sriov-operator/pci"  # where the daemon remembers devices: make it a file
    records.parent.mkdir(parents=True, exist_ok=True)
    records.write_text("not a directory\n")
    out, err = process.communicate(timeout=START_SECONDS)
    assert process.returncode == 1, out + err
    assert re.fullmatch(
        r"sriov-operator sandbox: not synced after 60s: worker-0: syncStatus Failed: "
        r"policy dpdk1: rememberDevice \S+: "
        r"/etc/sriov-operator/pci\S*: .+; Degraded ApplyFailed: .+",
        err.strip().splitlines()[-1],
    ), err


def test_control_plane_only_is_a_bare_cluster_with_controllers_until_ctrl_c(tmp_path: Path) -> None:
    """docs/install.md's bare cluster: no CRDs and nothing of ours, but the controllers work."""
    start, export = example("install-bare-cluster").commands()
    words = shlex.split(start, comments=True)
    assert words[:3] == ["sriov-operator", "sandbox", "--control-plane-only"], start
    assert export == f"export KUBECONFIG={words[4]}"
    kubeconfig = tmp_path / "kubeconfig"
    with running_sandbox(*words[2:4], str(kubeconfig)) as (process, lines):
        assert "no CRDs, no operator, no nodes" in "".join(lines)
        assert kubectl(kubeconfig, "get", "crds", "-o", "name").strip() == ""
        assert "sriov" not in kubectl(kubeconfig, "get", "clusterroles,namespaces", "-o", "name")
        kubectl(kubeconfig, "create", "namespace", "try")
        deadline = time.monotonic() + 60
        while "serviceaccount/default" not in kubectl(kubeconfig, "get", "sa", "-n", "try", "-o", "name"):
            assert time.monotonic() < deadline, (
                "no default ServiceAccount: the controller manager is not working"
            )
            time.sleep(0.2)
        children = descendants(process.pid)
        assert len(children) == 4, children  # etcd, kube-apiserver, kube-controller-manager, kube-scheduler
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert alive(children) == set(), "processes outlived the sandbox"


def test_on_bare_metal_the_examples_configure_vfs_on_both_nic_vendors(tmp_path: Path) -> None:
    """``--platform baremetal --apply-examples``: the seed's OpenStack policies would select nothing; the
    bare-metal example gives every worker four VFs of resource ``sriovnic`` and the pod gets one."""
    kept = ["--workdir", str(tmp_path / "sandbox")]
    result = sandbox_to_exit(
        "--platform", "baremetal", "--apply-examples", "--until-synced", "--timeout", "240",
        "--kubeconfig", str(tmp_path / "kc"), *kept,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "applying examples/baremetal-policies.yaml instead" in out
    rows = final_rows(out)
    assert re.fullmatch(
        r"worker-0 +Succeeded +2 \(1 configured\) +ens1f0=4xiavf +sriovnic=4", rows["worker-0"]
    )
    assert re.fullmatch(
        r"worker-1 +Succeeded +2 \(1 configured\) +ens2f1np1=4xmlx5_core +sriovnic=4", rows["worker-1"]
    )
    assert "the webhook injected requests/limits openshift.io/sriovnic: 1" in out
