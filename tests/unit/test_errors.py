"""The error tree decides exit codes; `describe` keeps the chain of causes on one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriov_operator import cli
from sriov_operator.errors import BadInputError, HostError, TransientError, describe, exit_code_for


def test_describe_joins_causes_without_repeating_them() -> None:
    try:
        try:
            raise OSError("/host/sys/bus/pci/devices/0000:00:04.0/driver_override: Permission denied")
        except OSError as root:
            raise HostError("bind 0000:00:04.0 to vfio-pci") from root
    except HostError as error:
        text = describe(error)
    assert (
        text == "bind 0000:00:04.0 to vfio-pci: /host/sys/bus/pci/devices/0000:00:04.0/driver_override: "
        "Permission denied"
    )
    assert describe(HostError("x: y")) == "x: y"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BadInputError("bad"), 2),
        (HostError("down"), 1),
        (TransientError("later"), 1),
        (RuntimeError("bug"), 1),
        (KeyboardInterrupt(), 130),
    ],
)
def test_exit_codes(error: BaseException, code: int) -> None:
    assert exit_code_for(error) == code


def test_cli_prints_one_line_and_maps_the_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    code = cli.main(["plan", "--host-root", str(tmp_path), "--state", str(missing)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("sriov-operator plan: ") and str(missing) in err
