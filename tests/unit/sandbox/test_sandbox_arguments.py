"""Bad sandbox flags get one line naming the flag, the value and what is accepted (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriov_operator.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "sriov-operator sandbox: --workers: 0 is not accepted (1 to 50)"),
        (["--workers", "51"], "sriov-operator sandbox: --workers: 51 is not accepted (1 to 50)"),
        (["--vm-workers", "5"], "sriov-operator sandbox: --vm-workers: 5 is not accepted (0 to 4)"),
        (["--workers", "-1", "--vm-workers", "1"], "sriov-operator sandbox: --workers: -1 is not "
         "accepted (0 to 50)"),
        (["--vm-workers", "1", "--platform", "baremetal"], "sriov-operator sandbox: --vm-workers: VM "
         "workers are OpenStack VMs: --platform 'baremetal' is not accepted with them (use --platform "
         "openstack)"),
        (["--platform", "aws"], "sriov-operator sandbox: --platform: 'aws' is not accepted "
         "(openstack or baremetal)"),
        (["--timeout", "0"], "sriov-operator sandbox: --timeout: 0.0 is not accepted "
         "(seconds > 0)"),
        (["--namespace", ""], "sriov-operator sandbox: --namespace: must not be empty "
         "(a namespace name, e.g. sriov-network-operator)"),
        (["--control-plane-only", "--apply-examples", "--until-synced"], "sriov-operator sandbox: "
         "--control-plane-only: --apply-examples, --until-synced not accepted with it (a bare cluster: "
         "no workers)"),
        (["--health-ports", "80"], "sriov-operator sandbox: --health-ports: 80 is not accepted (1024 to "
         "65531: 4 ports from it, one per process)"),
        (["--health-ports", "65533", "--workers", "3"], "sriov-operator sandbox: --health-ports: 65533 is "
         "not accepted (1024 to 65530: 5 ports from it, one per process)"),
    ],
)  # fmt: skip
def test_bad_flag(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", *args]) == 2
    assert capsys.readouterr().err.strip() == message


def test_a_used_workdir_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "something").write_text("")
    assert main(["sandbox", "--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"--workdir: {tmp_path} is not empty (a new or empty directory is accepted)")
