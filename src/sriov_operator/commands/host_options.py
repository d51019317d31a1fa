"""Shared flags, host opening, state loading and output of the ``discover``/``plan``/``apply`` commands.

Errors are not handled here: they propagate to ``cli.main``, which maps the
error tree (`sriov_operator.errors`) to one line and an exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sriov_operator.api.documents import Document
from sriov_operator.api.meta import meta_of
from sriov_operator.api.models import SriovNetworkNodeState
from sriov_operator.errors import BadInputError
from sriov_operator.host.guid_pool import DEFAULT_GUID_FILE
from sriov_operator.host.node import NodeHost
from sriov_operator.host.openstack.metadata_service import DEFAULT_METADATA_URL, MetadataServiceSettings
from sriov_operator.host.openstack.ports import MetadataSettings
from sriov_operator.host.platform import PLATFORM_CHOICES
from sriov_operator.host.simulator.host_io import simulated_io
from sriov_operator.manifests import ManifestError, load_paths
from sriov_operator.runtime.settings import flag_adder, parse_bool


def add_host_arguments(
    parser: argparse.ArgumentParser,
    *,
    with_state: bool = False,
    with_output: bool = True,
    environ: Mapping[str, str] | None = None,
) -> None:
    """The host flags; ``environ`` (default: the process's) gives the variables some of them read."""
    if with_state:
        parser.add_argument(
            "--state",
            type=Path,
            required=True,
            help="a SriovNetworkNodeState (YAML/JSON), or `render` output (--node picks the node)",
        )
        parser.add_argument(
            "--node", help="with --state a render output: the node whose NodeState spec is wanted"
        )
    flag = flag_adder(parser, environ)
    flag("--host-root", type=Path, default=Path("/"), help="the host's root")
    parser.add_argument("--simulate", action="store_true", help="the host root is a simulator tree")
    flag(
        "--netns",
        default=None,
        help="network namespace of the host's links, where netlink and network programs (ethtool, devlink, "
        "vdpa, rdma) run: a name under /run/netns, a path such as /proc/1/ns/net, or 'current'; needed by "
        "plan/apply when --host-root is not / (and not simulated)",
    )
    parser.add_argument(
        "--node-ip",
        action="append",
        default=[],
        help="the Node's InternalIP (repeatable): its link is guarded like the default route's",
    )
    parser.add_argument(
        "--allow-node-link",
        action="append",
        default=[],
        metavar="IFNAME",
        help="let plan change this link although the node's own traffic uses it (repeatable)",
    )
    parser.add_argument("--platform", choices=PLATFORM_CHOICES, default="auto")
    parser.add_argument("--provider-id", help="the Node's spec.providerID (openstack:///… means OpenStack)")
    parser.add_argument(
        "--config-drive", type=Path, help="config drive device or image (default: find config-2)"
    )
    flag(
        "--metadata-url",
        default=None,
        help="Nova metadata service base URL; when set (not empty) the service is used instead of a "
        f"config drive found by label (unset: {DEFAULT_METADATA_URL} if no config drive is found)",
    )
    parser.add_argument(
        "--metadata-timeout", type=float, default=10.0, help="seconds per metadata document, all included"
    )
    flag(
        "--parallel-nics",
        default=True,
        type=parse_bool,
        help="configure the NICs (cards) of a node side by side; false: one after another",
    )
    flag(
        "--mellanox-firmware-reset",
        default=False,
        type=parse_bool,
        help="reload a Mellanox card's firmware with mstfwreset before a firmware reboot "
        "(the mellanoxFirmwareReset feature gate)",
    )
    flag(
        "--ib-guid-file",
        default=DEFAULT_GUID_FILE,
        help="the InfiniBand VF GUID file (a path under the host root); missing: GUIDs derived from the PF's",
    )
    if with_output:
        parser.add_argument("-o", "--output", choices=("json", "yaml"), default="json")


def metadata_settings(args: argparse.Namespace) -> MetadataSettings:
    """Where OpenStack metadata comes from; an empty ``--metadata-url`` (or variable) is as not given."""
    return MetadataSettings(
        config_drive=args.config_drive,
        service=MetadataServiceSettings(
            base_url=args.metadata_url or DEFAULT_METADATA_URL, timeout_seconds=args.metadata_timeout
        ),
        use_service=bool(args.metadata_url),
    )


def open_node(args: argparse.Namespace) -> NodeHost:
    metadata = metadata_settings(args)
    io = None
    if args.simulate:
        try:
            io = simulated_io(args.host_root)
        except FileNotFoundError as error:
            raise BadInputError(f"--host-root: {error}") from None
    return NodeHost.open(
        args.host_root,
        io=io,
        netns=args.netns,
        platform=args.platform,
        provider_id=args.provider_id,
        metadata=metadata,
        node_ips=args.node_ip,
        allow_node_links=args.allow_node_link,
        parallel_nics=args.parallel_nics,
        firmware_reset=args.mellanox_firmware_reset,
        ib_guid_file=args.ib_guid_file,
    )


def _rendered_state(document: Document, node: str | None) -> SriovNetworkNodeState:
    """One node's NodeState from ``render``'s output (``nodeStates``: node → spec)."""
    specs = document.body["nodeStates"]
    nodes = sorted(str(name) for name in specs) if isinstance(specs, Mapping) else []
    if not nodes:
        raise BadInputError(
            f"{document.where}: render output with no nodeStates: no managed node was rendered"
        )
    if node is None and len(nodes) > 1:
        raise BadInputError(
            f"{document.where}: render output for {len(nodes)} nodes; --node: one of {', '.join(nodes)}"
        )
    chosen = node or nodes[0]
    if chosen not in nodes:
        raise BadInputError(f"--node: {chosen!r} is not in {document.where}; accepted: {', '.join(nodes)}")
    body = {"kind": SriovNetworkNodeState.KIND, "metadata": {"name": chosen}, "spec": specs[chosen]}
    return _validated(Document(document.source, document.line, body))


def _validated(document: Document) -> SriovNetworkNodeState:
    try:
        return SriovNetworkNodeState.model_validate(document.body)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        message = f"{document.where}: invalid SriovNetworkNodeState: {location}: {first['msg']}"
        raise BadInputError(message) from None


def load_state(path: Path, node: str | None = None) -> SriovNetworkNodeState:
    """The NodeState in ``path``: a SriovNetworkNodeState (named ``node`` if given) or ``render`` output."""
    try:
        documents = load_paths([path]).documents
    except ManifestError as error:
        raise BadInputError(str(error)) from None
    for document in documents:
        if not document.kind and "nodeStates" in document.body:
            return _rendered_state(document, node)
        if document.kind == SriovNetworkNodeState.KIND and node in (None, meta_of(document.body).get("name")):
            return _validated(document)
    if node is not None:
        raise BadInputError(f"{path}: no SriovNetworkNodeState named {node!r} in this file")
    raise BadInputError(
        f"{path}: no SriovNetworkNodeState in this file; accepted: a SriovNetworkNodeState or `render` output"
    )


def emit(data: dict[str, Any], output: str) -> None:
    if output == "yaml":
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
    else:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
