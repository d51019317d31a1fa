"""Which policies a failed configuration is about, from the NodeState spec and the error.

The spec's VF groups carry the policy that asked for them (``policyName``); the
error names the device that refused (a PF, or one of its VFs). Those policies
are named in the daemon's Event and in the NodeState's failed-policies
annotation, which the operator turns into each policy's status: the policy that
failed says so, and the others on the node say which policy blocks them. Likewise
the policies whose devices the device plugin cannot use (the plan's ``unusable``)
go into the unusable-policies annotation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sriov_operator.api.models import Interface, SriovNetworkNodeStateSpec

PCI_ADDRESS = re.compile(r"\b[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]\b")
SEPARATOR = ","


def _policies(interfaces: Iterable[Interface]) -> tuple[str, ...]:
    return tuple(sorted({g.policy_name for i in interfaces for g in i.vf_groups or [] if g.policy_name}))


def vf_parents(status_interfaces: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """VF PCI address -> its PF's, from the NodeState status the daemon reports."""
    return {
        str(vf.get("pciAddress")): str(pf.get("pciAddress"))
        for pf in status_interfaces
        for vf in pf.get("Vfs") or []
        if isinstance(vf, Mapping)
    }


def failing_policies(
    spec: SriovNetworkNodeStateSpec, message: str, parents: Mapping[str, str]
) -> tuple[str, ...]:
    """The policies of the PFs the error names; every policy of the spec when it names none."""
    interfaces = spec.interfaces or []
    named = {parents.get(address, address) for address in PCI_ADDRESS.findall(message)}
    return _policies(i for i in interfaces if i.pci_address in named) or _policies(interfaces)


def blamed_message(policies: Sequence[str], message: str) -> str:
    """``policy mtu-jumbo: <message>``: a failure's words start with the policies it is about."""
    return f"policy {', '.join(policies)}: {message}" if policies else message


def annotation_value(policies: Sequence[str]) -> str:
    return SEPARATOR.join(policies)


def unusable_annotation(unusable: Mapping[str, str]) -> str | None:
    """The NodeState's unusable-policies annotation (policy -> the plan warning); None removes it."""
    return json.dumps(dict(sorted(unusable.items())), separators=(",", ":")) if unusable else None
