"""SriovNetwork / SriovIBNetwork / OVSNetwork → NetworkAttachmentDefinition.

``spec.config`` keeps upstream's key order (CNI plugins and diff tools see the
same text).  A raw JSON field that does not parse is a problem of that one
network: its NAD is not rendered, the others are.
"""

from __future__ import annotations

import json
from typing import Any

from sriov_operator.api.constants import (
    API_VERSION,
    GROUP,
    NAD_API_VERSION,
    NAD_KIND,
    NAD_RESOURCE_NAME_ANNOTATION,
    OWNER_REF_ANNOTATION,
)
from sriov_operator.api.models import OVSNetwork, SriovIBNetwork, SriovNetwork
from sriov_operator.api.refs import ObjectRef
from sriov_operator.engine.problems import Problem, error
from sriov_operator.errors import BadInputError

Network = SriovNetwork | SriovIBNetwork | OVSNetwork
CNI_VERSION = "1.0.0"
DEFAULT_LOG_LEVEL = "info"


class RawJsonError(BadInputError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def object_ref(network: Network) -> ObjectRef:
    return ObjectRef(kind=network.kind, namespace=network.namespace, name=network.name)


MAX_RAW_JSON_BYTES = 64 * 1024  # far above any real CNI snippet; keeps hostile input cheap
_EXCERPT = 60


def _excerpt(raw: str) -> str:
    """The user's text in a message: quoted, and cut so a huge input never makes a huge message."""
    return repr(raw) if len(raw) <= _EXCERPT else f"{raw[:_EXCERPT]!r}... ({len(raw)} characters)"


def _parse(field: str, text: str, raw: str, what: str) -> Any:
    """``json.loads`` of user text, every failure a one-line RawJsonError naming ``field``."""
    if len(raw) > MAX_RAW_JSON_BYTES:
        raise RawJsonError(field, f"{_excerpt(raw)} is longer than {MAX_RAW_JSON_BYTES} characters")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RawJsonError(
            field, f"{_excerpt(raw)} is not {what} ({exc.msg} at character {exc.pos})"
        ) from None
    except RecursionError:
        raise RawJsonError(field, f"{_excerpt(raw)} is nested too deeply to be {what}") from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise RawJsonError(field, f"{_excerpt(raw)} is not {what} ({exc})") from None


def _json_object(field: str, raw: str | None, default: dict[str, Any] | None = None) -> dict[str, Any] | None:
    if not raw:
        return default
    value = _parse(field, raw, raw, "valid JSON")
    if not isinstance(value, dict):
        raise RawJsonError(field, f'{_excerpt(raw)} must be a JSON object, e.g. \'{{"type": "static"}}\'')
    return value


def _meta_plugins(raw: str | None) -> list[dict[str, Any]]:
    """metaPlugins is one or more JSON objects separated by commas (upstream splices it into a list)."""
    if not raw:
        return []
    accepted = 'JSON objects separated by commas, e.g. \'{"type": "tuning", "sysctl": {}}\''
    plugins = _parse("spec.metaPlugins", f"[{raw}]", raw, accepted)
    if not all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in plugins):
        raise RawJsonError(
            "spec.metaPlugins", f'{_excerpt(raw)}: every plugin must be a JSON object with a "type"'
        )
    return list(plugins)


def _sriov_config(spec: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {"type": "sriov", "vlan": spec.vlan}
    for key, value in (("spoofchk", spec.spoof_chk), ("trust", spec.trust)):
        if value in ("on", "off"):
            conf[key] = value
    conf["vlanQoS"] = spec.vlan_qos
    optional = {
        "vlanProto": spec.vlan_proto,
        "min_tx_rate": spec.min_tx_rate,
        "max_tx_rate": spec.max_tx_rate,
    }
    conf.update((key, value) for key, value in optional.items() if value is not None)
    return conf


def _ovs_config(spec: Any, capabilities: dict[str, Any] | None) -> dict[str, Any]:
    """Upstream writes ``capabilities`` right after ``type`` and omits zero / empty values."""
    conf: dict[str, Any] = {"type": "ovs"}
    if capabilities is not None:
        conf["capabilities"] = capabilities
    trunk = [t.model_dump(by_alias=True, exclude_none=True) for t in spec.trunk or []]
    optional = {
        "bridge": spec.bridge,
        "vlan": spec.vlan,
        "mtu": spec.mtu,
        "trunk": trunk,
        "interface_type": spec.interface_type,
    }
    conf.update((key, value) for key, value in optional.items() if value)
    return conf


def _plugin_config(network: Network) -> dict[str, Any]:
    """The main plugin's object, without cniVersion/name, in upstream's key order."""
    spec = network.spec
    capabilities = _json_object("spec.capabilities", spec.capabilities)
    conf: dict[str, Any]
    if isinstance(network, OVSNetwork):
        conf = _ovs_config(network.spec, capabilities)
    else:
        conf = _sriov_config(network.spec) if isinstance(network, SriovNetwork) else {"type": "ib-sriov"}
        if capabilities is not None:
            conf["capabilities"] = capabilities
        if network.spec.link_state:
            conf["link_state"] = network.spec.link_state
    if isinstance(network, SriovNetwork):
        if network.spec.log_level not in ("", DEFAULT_LOG_LEVEL):
            conf["logLevel"] = network.spec.log_level
        if network.spec.log_file:
            conf["logFile"] = network.spec.log_file
    conf["ipam"] = _json_object("spec.ipam", spec.ipam, {})
    return conf


def cni_config(network: Network) -> str:
    """``spec.config`` of the NAD; raises RawJsonError for unreadable raw JSON fields."""
    head: dict[str, Any] = {"cniVersion": CNI_VERSION, "name": network.name}
    plugin = _plugin_config(network)
    meta = _meta_plugins(network.spec.meta_plugins)
    config = {**head, "plugins": [plugin, *meta]} if meta else {**head, **plugin}
    return json.dumps(config, separators=(",", ":"))


def target_namespace(network: Network) -> str:
    return network.spec.network_namespace or network.namespace


def owner_ref_annotation(network: Network) -> str:
    return f"{network.kind}.{GROUP}/{network.namespace}/{network.name}"


def render_nad(network: Network, resource_prefix: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    try:
        config = cni_config(network)
    except RawJsonError as exc:
        return None, [error(object_ref(network), exc.field, str(exc))]
    namespace = target_namespace(network)
    metadata: dict[str, Any] = {
        "name": network.name,
        "namespace": namespace,
        "annotations": {
            NAD_RESOURCE_NAME_ANNOTATION: f"{resource_prefix}/{network.spec.resource_name}",
            OWNER_REF_ANNOTATION: owner_ref_annotation(network),
        },
    }
    if namespace == network.namespace and network.metadata.uid:
        metadata["ownerReferences"] = [
            {
                "apiVersion": API_VERSION,
                "kind": network.kind,
                "name": network.name,
                "uid": network.metadata.uid,
            }
        ]
    nad = {"apiVersion": NAD_API_VERSION, "kind": NAD_KIND, "metadata": metadata, "spec": {"config": config}}
    return nad, []
