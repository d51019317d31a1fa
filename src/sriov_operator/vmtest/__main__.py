"""``python -m sriov_operator.vmtest``: build the guest bundle, or boot a guest (see docs/vm.md)."""

from __future__ import annotations

import sys

from sriov_operator.vmtest.command import main

if __name__ == "__main__":  # importing the package's modules (docs tests walk them) must not run it
    sys.exit(main())
