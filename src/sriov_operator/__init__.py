"""SR-IOV / Fast-Datapath network operator, API-compatible with sriovnetwork.openshift.io/v1."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sriov-fdp-operator")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
