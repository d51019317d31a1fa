"""Generate CustomResourceDefinitions from the models.

pydantic's JSON Schema is close to what Kubernetes wants; a structural CRD schema
additionally needs: no ``$ref`` (inline every definition), no ``null`` branches
(optional fields are simply not required), ``x-kubernetes-preserve-unknown-fields``
for free-form maps, and int-or-string fields in Kubernetes' own spelling.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from sriov_operator.api import constants
from sriov_operator.api.models import ALL_KINDS, KubeObject

_DROP_KEYS = {"title", "$defs", "const"}
_EMPTY_DEFAULTS: tuple[object, ...] = (None, False, "", 0, [], {})


def _is_empty_default(value: object) -> bool:
    return any(value == e and type(value) is type(e) for e in _EMPTY_DEFAULTS)


def _int_or_string(node: dict[str, Any]) -> dict[str, Any]:
    """Kubernetes allows exactly anyOf[integer, string] here; bounds go into a CEL rule."""
    branches = [b for b in node["anyOf"] if b.get("type") != "null"]
    minimum = next((b.get("minimum") for b in branches if b.get("type") == "integer"), None)
    maximum = next((b.get("maximum") for b in branches if b.get("type") == "integer"), None)
    pattern = next((b.get("pattern") for b in branches if b.get("type") == "string"), None)
    out: dict[str, Any] = {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }
    rules = []
    if minimum is not None and pattern is not None:
        bound = f"self >= {minimum}" + (f" && self <= {maximum}" if maximum is not None else "")
        words = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        rules.append(
            {
                "rule": f"type(self) == int ? {bound} : self.matches('{pattern}')",
                "message": f"must be an integer {words} or a percentage 'N%' with 1 <= N <= 100",
            }
        )
    if rules:
        out["x-kubernetes-validations"] = rules
    if "description" in node:
        out["description"] = node["description"]
    return out


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
        target.update({k: v for k, v in node.items() if k != "$ref"})
        return _structural(target, defs)
    if node.get("x-kubernetes-int-or-string"):
        return _int_or_string(node)
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        if len(branches) == 1:
            merged = {k: v for k, v in node.items() if k != "anyOf"}
            merged.update(branches[0] if "$ref" not in branches[0] else _structural(branches[0], defs))
            return _structural(merged, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP_KEYS:
            continue
        if key == "default" and _is_empty_default(value):
            continue
        if key == "description":
            out[key] = " ".join(value.split())  # docstrings wrap; kubectl explain re-wraps
            continue
        if key == "additionalProperties" and value is True:
            out["x-kubernetes-preserve-unknown-fields"] = True
            continue
        if key == "additionalProperties" and value is False:
            continue  # extra="forbid": the API server prunes unknown fields instead
        if key == "properties":
            out[key] = {name: _keyed_by_type(name, _structural(sub, defs)) for name, sub in value.items()}
            continue
        out[key] = _structural(value, defs)
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return {k: out[k] for k in sorted(out, key=_key_order)}


def _keyed_by_type(name: str, schema: Any) -> Any:
    """``conditions`` is a list map keyed by ``type``: each writer's server-side apply owns only
    its own conditions (the daemon's Ready/Progressing/Degraded, the drain controller's Draining)."""
    if name == "conditions" and isinstance(schema, dict) and schema.get("type") == "array":
        return {**schema, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}
    return schema


def _key_order(key: str) -> tuple[int, str]:
    first = ("type", "description", "required")
    return (first.index(key), "") if key in first else (len(first), "")


def openapi_schema(kind: type[KubeObject]) -> dict[str, Any]:
    raw = kind.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    properties = {
        name: _structural(sub, defs)
        for name, sub in raw["properties"].items()
        if name not in ("apiVersion", "kind", "metadata")
    }
    return {
        "type": "object",
        "description": " ".join((kind.__doc__ or kind.KIND).split()),
        "required": [r for r in raw.get("required", []) if r == "spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": f"Always {constants.API_VERSION}."},
            "kind": {"type": "string", "description": f"Always {kind.KIND}."},
            "metadata": {"type": "object"},  # the API server forbids anything more here
            **properties,
        },
    }


def crd_for(kind: type[KubeObject]) -> dict[str, Any]:
    schema = openapi_schema(kind)
    if not schema["required"]:
        del schema["required"]
    version: dict[str, Any] = {
        "name": constants.VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "additionalPrinterColumns": [dict(c) for c in kind.PRINTER_COLUMNS],
    }
    if "status" in kind.model_fields:
        version["subresources"] = {"status": {}}
    names: dict[str, Any] = {
        "kind": kind.KIND,
        "listKind": f"{kind.KIND}List",
        "plural": kind.PLURAL,
        "singular": kind.KIND.lower(),
    }
    if kind.SHORT_NAMES:
        names["shortNames"] = list(kind.SHORT_NAMES)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.PLURAL}.{constants.GROUP}"},
        "spec": {"group": constants.GROUP, "names": names, "scope": "Namespaced", "versions": [version]},
    }


def all_crds() -> list[dict[str, Any]]:
    return [crd_for(kind) for kind in ALL_KINDS]


def crd_filename(crd: dict[str, Any]) -> str:
    return f"{constants.GROUP}_{crd['spec']['names']['plural']}.yaml"


def render_crd_yaml(crd: dict[str, Any]) -> str:
    header = "# Generated by `sriov-operator crds` from src/sriov_operator/api/models.py; do not edit.\n"
    return header + yaml.safe_dump(crd, sort_keys=False, default_flow_style=False, width=100)


def write_crds(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for crd in all_crds():
        path = directory / crd_filename(crd)
        path.write_text(render_crd_yaml(crd))
        written.append(path)
    return written
