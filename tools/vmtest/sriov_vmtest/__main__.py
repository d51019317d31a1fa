"""``python -m sriov_vmtest``: build the guest bundle, or boot a guest (see docs/vm.md)."""

from __future__ import annotations

import sys

from sriov_vmtest.command import main

if __name__ == "__main__":  # importing it (e.g. to walk the package) must not run it
    sys.exit(main())
