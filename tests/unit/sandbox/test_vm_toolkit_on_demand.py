"""``sandbox`` loads the VM toolkit only for ``--vm-workers``, and says how to get it when it is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sriov_operator.errors import BadInputError
from sriov_operator.sandbox import session
from tests.support import REPO_ROOT


def test_the_sandbox_command_does_not_import_the_vm_toolkit() -> None:
    probe = (
        "import sys, sriov_operator.commands.sandbox, sriov_operator.sandbox.session\n"
        "print(sorted(m for m in sys.modules if m.startswith('sriov_vmtest')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_a_missing_toolkit_is_a_one_line_error_saying_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sriov_operator.sandbox.vm_workers", raising=False)
    monkeypatch.setitem(sys.modules, "sriov_vmtest", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "sriov_vmtest.accel", None)
    with pytest.raises(BadInputError, match=r"--vm-workers: needs the VM toolkit .*scripts/bootstrap.sh"):
        session.load_vm_workers()


def test_with_the_toolkit_the_vm_workers_module_loads() -> None:
    assert hasattr(session.load_vm_workers(), "vm_workers")


def test_vm_workers_run_from_the_projects_clone_and_elsewhere_say_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    vm_workers = session.load_vm_workers()
    monkeypatch.chdir(REPO_ROOT)
    assert vm_workers.project_checkout() == REPO_ROOT.resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadInputError, match=r"^--vm-workers .*: \S+ is not a checkout of this project"):
        vm_workers.project_checkout()
