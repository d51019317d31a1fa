"""Real kernels in QEMU guests (``vm`` marker): the bundle and the accelerator, once per session.

A guest that cannot be built or booted fails the test with the reason and the
tail of its serial console: never a skip.  Each machine boots once per test
module and runs a whole scenario (`tests.vm.support.Scenario`); the tests
assert on its results.
"""

from __future__ import annotations

import pytest

from sriov_operator.errors import SriovOperatorError
from sriov_vmtest.accel import choose_accel
from sriov_vmtest.build import ensure_bundle
from sriov_vmtest.bundle import Bundle
from sriov_vmtest.recipe import default_recipe


@pytest.fixture(scope="session")
def vm_bundle() -> Bundle:
    try:
        return ensure_bundle(default_recipe())
    except SriovOperatorError as error:
        pytest.fail(f"the VM bundle could not be built:\n{error}", pytrace=False)


@pytest.fixture(scope="session")
def vm_accel(vm_bundle: Bundle, tmp_path_factory: pytest.TempPathFactory) -> str:
    return choose_accel(vm_bundle.qemu_command(), vm_bundle.kernel, tmp_path_factory.mktemp("accel"))
