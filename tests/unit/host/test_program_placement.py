"""Where host programs run: chroot into the host root, nsenter into --netns, or refused with nothing run."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sriov_operator.errors import EXIT_BAD_INPUT, BadInputError
from sriov_operator.host.actions import SetFlowSteeringMode
from sriov_operator.host.apply import apply_plan
from sriov_operator.host.devlink import NetlinkEswitch
from sriov_operator.host.io import NamespaceRequired, real_host_io
from sriov_operator.host.netlink import NetlinkLinkControl
from sriov_operator.host.netns import CURRENT_NETNS, Netns, NetnsRequiredError, resolve_netns
from sriov_operator.host.node import NodeHost
from sriov_operator.host.placement import PROGRAMS, placed_argv, reach_of
from sriov_operator.host.plan import Plan
from sriov_operator.host.programs import HostCommandRunner
from sriov_operator.host.root import HostRoot
from sriov_operator.runtime.settings import env_variable
from tests.docs_examples import REPO_ROOT
from tests.unit.host.conftest import sim_node

TREE = Path("/host")
NS = Netns("/run/netns/node")
HERE = Netns()  # --netns current: this process's namespace
ENTER = ["nsenter", "--net=/run/netns/node"]
CHROOT = ["chroot", "/host"]
ETHTOOL = ["ethtool", "-k", "ens1f0"]
MODPROBE = ["modprobe", "vfio_pci"]
IP = ["ip", "-o", "link"]
PF = "0000:3b:00.0"


@pytest.mark.parametrize(
    ("argv", "root", "netns", "expected"),
    [
        (ETHTOOL, Path("/"), None, ETHTOOL),
        (ETHTOOL, Path("/"), HERE, ETHTOOL),
        (ETHTOOL, Path("/"), NS, [*ENTER, *ETHTOOL]),
        (ETHTOOL, TREE, HERE, [*CHROOT, *ETHTOOL]),
        (ETHTOOL, TREE, NS, [*ENTER, *CHROOT, *ETHTOOL]),
        (IP, TREE, NS, [*ENTER, *CHROOT, *IP]),  # a program not listed counts as a network one
        (["/usr/sbin/devlink", "dev"], Path("/"), NS, [*ENTER, "/usr/sbin/devlink", "dev"]),
        (MODPROBE, Path("/"), None, MODPROBE),
        (MODPROBE, Path("/"), NS, MODPROBE),  # the kernel's modules are no namespace's
        (MODPROBE, TREE, None, [*CHROOT, *MODPROBE]),
        (MODPROBE, TREE, HERE, [*CHROOT, *MODPROBE]),
        (MODPROBE, TREE, NS, [*CHROOT, *MODPROBE]),
    ],
)
def test_where_a_program_runs(argv: list[str], root: Path, netns: Netns | None, expected: list[str]) -> None:
    assert placed_argv(argv, root, netns) == expected


@pytest.mark.parametrize("program", ["ethtool", "devlink", "vdpa", "rdma", "ip", "ovs-vsctl", "new-tool"])
def test_a_network_program_on_a_tree_without_netns_is_refused_naming_it(program: str) -> None:
    with pytest.raises(NetnsRequiredError) as caught:
        placed_argv([program, "x"], TREE, None)
    message = str(caught.value)
    assert message.startswith(f"--netns: required with --host-root /host (not /) to run {program}: ")
    assert env_variable("--netns") in message and "/proc/1/ns/net" in message and "\n" not in message
    assert isinstance(caught.value, BadInputError) and caught.value.exit_code == EXIT_BAD_INPUT


def test_each_listed_program_has_a_reason_and_any_other_counts_as_network() -> None:
    network = {name for name, reach in PROGRAMS.items() if reach.network}
    assert network == {"ethtool", "devlink", "vdpa", "rdma"}
    assert all(reach.why for reach in PROGRAMS.values())
    assert reach_of("/sbin/modprobe") == PROGRAMS["modprobe"]
    assert reach_of("ovs-vsctl").network and reach_of("ip").network


def test_host_md_says_of_each_program_what_the_code_decides() -> None:
    section = (REPO_ROOT / "docs" / "host.md").read_text().split("## Where host programs run")[1]
    rows = [line.strip("|").split("|") for line in section.split("\n## ")[0].splitlines()]
    documented = {
        name: answer.strip() == "yes"
        for programs, answer, *_ in (row for row in rows if len(row) > 1 and row[1].strip() in ("yes", "no"))
        for name in re.findall(r"`([\w-]+)`", programs)
    }
    assert set(PROGRAMS) <= set(documented)
    assert {name: reach_of(name).network for name in documented} == documented


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (CURRENT_NETNS, Netns()),
        ("node", Netns("/run/netns/node")),  # as `ip netns add node` names it
        ("/proc/1/ns/net", Netns("/proc/1/ns/net")),
        ("run/ns", Netns("run/ns")),  # with a slash, a path, as netlink (pyroute2) takes it
    ],
)
def test_netlink_and_programs_share_one_resolved_namespace(
    setting: str, expected: Netns, tmp_path: Path
) -> None:
    assert resolve_netns(setting) == expected
    io = real_host_io(tmp_path, setting)
    assert io.run == HostCommandRunner(Path(os.path.realpath(tmp_path)), expected)
    assert (io.links, io.eswitch) == (NetlinkLinkControl(expected.path), NetlinkEswitch(expected.path))


@pytest.mark.parametrize("setting", [None, ""])  # an empty SRIOV_OPERATOR_NETNS is as unset
def test_without_a_namespace_a_tree_gets_refusals(setting: str | None, tmp_path: Path) -> None:
    assert resolve_netns(setting) is None
    io = real_host_io(tmp_path, setting)
    assert isinstance(io.links, NamespaceRequired) and isinstance(io.eswitch, NamespaceRequired)
    assert io.run == HostCommandRunner(Path(os.path.realpath(tmp_path)), None)
    assert real_host_io(Path("/"), setting).links == NetlinkLinkControl(None)  # `/` is this machine


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``chroot`` and ``nsenter`` first on PATH, each writing its argv to a log: what would have run."""
    bin_dir, log = tmp_path / "bin", tmp_path / "ran.jsonl"
    bin_dir.mkdir()
    for name in ("chroot", "nsenter"):
        shim = bin_dir / name
        shim.write_text(
            f"#!{sys.executable}\nimport json, sys\n"
            f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        )
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def ran(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_on_a_tree_without_netns_a_network_program_runs_nothing(
    mellanox_host: HostRoot, recorded: Path
) -> None:
    node = NodeHost.open(mellanox_host.root)  # real I/O on a tree, no --netns
    root = os.path.realpath(mellanox_host.root)
    steering = SetFlowSteeringMode(PF, "smfs", reason="spec")
    refusal = re.escape(f"--host-root {root} (not /) to run devlink: devlink ")
    with pytest.raises(NetnsRequiredError, match=refusal):
        apply_plan(node.access, Plan((steering,)))
    assert ran(recorded) == []
    node.access.run(["modprobe", "vfio_pci"])  # a program of the root, not of a namespace, still runs
    assert ran(recorded) == [[root, "modprobe", "vfio_pci"]]


def test_with_netns_a_network_program_enters_it_then_the_root(
    mellanox_host: HostRoot, recorded: Path
) -> None:
    run = NodeHost.open(mellanox_host.root, netns="node").access.run
    run(["devlink", "dev", "param", "show"])
    run(["udevadm", "control", "--reload-rules"])
    root = os.path.realpath(mellanox_host.root)
    assert ran(recorded) == [
        ["--net=/run/netns/node", "chroot", root, "devlink", "dev", "param", "show"],
        [root, "udevadm", "control", "--reload-rules"],
    ]


def vfs_of(host: HostRoot) -> dict[str, int | None]:
    return {i.pci_address: i.num_vfs for i in sim_node(host).discover(checkpoint=False).interfaces}


STATE = f"""\
kind: SriovNetworkNodeState
metadata: {{name: worker-0}}
spec:
  interfaces:
  - {{pciAddress: "{PF}", numVfs: 4}}
"""


def test_apply_on_a_tree_without_netns_refuses_in_one_line_and_runs_nothing(
    mellanox_host: HostRoot, recorded: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.yaml"
    state.write_text(STATE)
    before = vfs_of(mellanox_host)
    argv = ["apply", "--host-root", str(mellanox_host.root), "--state", str(state)]
    done = subprocess.run(
        [sys.executable, "-m", "sriov_operator.cli", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    assert done.stderr.startswith("sriov-operator apply: --netns: required with --host-root ")
    assert done.stderr.count("\n") == 1 and env_variable("--netns") in done.stderr
    assert (ran(recorded), done.stdout, vfs_of(mellanox_host)) == ([], "", before)
