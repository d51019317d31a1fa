"""Real-kernel test machines: QEMU guests that play an OpenStack VM or a bare-metal SR-IOV host.

Test infrastructure (and later a sandbox option): no production module imports
this package.  ``python -m sriov_vmtest`` builds the guest bundle and
boots guests; see docs/vm.md.
"""
