"""Production code never imports the VM toolkit (test infrastructure), with one deliberate exception.

``sandbox/vm_workers.py`` gives ``sriov-operator sandbox --vm-workers`` real-kernel
workers; the sandbox's session imports it. No process (operator, daemon, webhook) and no
other command may import it.
"""

from __future__ import annotations

from sriov_operator import vmtest
from tests.unit.test_simulator_stays_out import importers_of

VM_WORKERS_FOR_THE_SANDBOX = "sandbox/vm_workers.py"


def test_no_production_module_imports_the_vm_toolkit_but_the_sandboxs_vm_workers() -> None:
    assert importers_of(vmtest.__name__, ("vmtest/", VM_WORKERS_FOR_THE_SANDBOX)) == []
    assert importers_of(vmtest.__name__, ("vmtest/",)) == [VM_WORKERS_FOR_THE_SANDBOX]
