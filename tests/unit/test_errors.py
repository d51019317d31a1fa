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


def _subclasses(cls: type[BaseException]) -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_the_module_docstring_draws_every_public_error_in_the_tree() -> None:
    import importlib
    import pkgutil

    import sriov_operator
    from sriov_operator import errors

    for module in pkgutil.walk_packages(sriov_operator.__path__, "sriov_operator."):
        importlib.import_module(module.name)
    doc = errors.__doc__ or ""
    drawn = {
        sub.__name__
        for sub in _subclasses(errors.SriovOperatorError)
        if sub.__module__.startswith("sriov_operator.") and not sub.__name__.startswith("_")
    }
    missing = sorted(name for name in drawn if name not in doc)
    assert not missing, f"errors.py's tree lacks {missing}"
