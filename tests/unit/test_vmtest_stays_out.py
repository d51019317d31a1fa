"""Production code never imports the VM toolkit (test infrastructure): only the toolkit itself does."""

from __future__ import annotations

from sriov_operator import vmtest
from tests.unit.test_simulator_stays_out import importers_of


def test_no_production_module_imports_the_vm_toolkit() -> None:
    assert importers_of(vmtest.__name__, ("vmtest/",)) == []
