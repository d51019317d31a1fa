"""deploy/crds/ is generated from the models and must not drift from them."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from sriov_operator.api.crds import all_crds, crd_filename, render_crd_yaml
from sriov_operator.api.models import ALL_KINDS, KubeObject
from sriov_operator.api.multus import DEPLOY_FILE, render_nad_crd_yaml
from tests.support import REPO_ROOT

CRD_DIR = REPO_ROOT / "deploy" / "crds"


def test_checked_in_crds_are_exactly_what_the_models_generate() -> None:
    expected = {crd_filename(crd): render_crd_yaml(crd) for crd in all_crds()}
    actual = {
        path.name: path.read_text() for path in CRD_DIR.glob("*.yaml") if path.name != "kustomization.yaml"
    }
    assert actual.keys() == expected.keys()
    stale = [name for name in expected if actual[name] != expected[name]]
    assert not stale, f"regenerate with `sriov-operator crds --output-dir deploy/crds`: {stale}"


def _model_fields(model: type[BaseModel]) -> dict[str, Any]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _walk(model: type[BaseModel], schema: dict[str, Any], path: str, seen: list[str]) -> None:
    """Every model field has a schema property of the same JSON name, recursively, and vice versa."""
    properties = schema.get("properties", {})
    fields = _model_fields(model)
    assert set(properties) == set(fields), f"{path}: CRD {sorted(properties)} vs model {sorted(fields)}"
    for name, field in fields.items():
        seen.append(f"{path}.{name}")
        annotation = field.annotation
        nested = _nested_model(annotation)
        if nested is not None:
            sub = properties[name]
            if sub.get("type") == "array":
                sub = sub["items"]
            _walk(nested, sub, f"{path}.{name}", seen)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.KIND)
def test_crd_schema_agrees_with_the_model_field_by_field(kind: type[KubeObject]) -> None:
    crd = yaml.safe_load(
        (
            CRD_DIR / crd_filename(next(c for c in all_crds() if c["spec"]["names"]["kind"] == kind.KIND))
        ).read_text()
    )
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    seen: list[str] = []
    for part in ("spec", "status"):
        field = kind.model_fields.get(part)
        nested = _nested_model(field.annotation) if field else None
        if nested is not None:
            _walk(nested, schema["properties"][part], part, seen)
    assert seen, "no fields compared"


def test_upstream_json_names_are_kept() -> None:
    crds = {c["spec"]["names"]["kind"]: c for c in all_crds()}
    state = crds["SriovNetworkNodeState"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    interface = state["properties"]["status"]["properties"]["interfaces"]["items"]
    assert {"Vfs", "totalvfs", "deviceID", "eSwitchMode", "linkAdminState"} <= set(interface["properties"])
    vf = interface["properties"]["Vfs"]["items"]
    assert {"Vlan", "vfID", "pciAddress"} <= set(vf["properties"])
    assert set(vf["required"]) == {"pciAddress", "vfID"}
    network = crds["SriovNetwork"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert {"vlanQoS", "spoofChk", "minTxRate", "maxTxRate", "metaPlugins"} <= set(network["properties"])


def test_every_kind_with_a_status_has_the_status_subresource_and_printer_columns() -> None:
    for crd in all_crds():
        version = crd["spec"]["versions"][0]
        assert version["subresources"] == {"status": {}}
        assert version["additionalPrinterColumns"], crd["metadata"]["name"]


def test_sync_status_is_a_printer_column_of_node_state() -> None:
    crd = next(c for c in all_crds() if c["spec"]["names"]["kind"] == "SriovNetworkNodeState")
    columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
    assert {"name": "Sync Status", "type": "string", "jsonPath": ".status.syncStatus"} in columns


def _fields_without_description(node: dict[str, Any], path: str) -> list[str]:
    missing = []
    for name, sub in (node.get("properties") or {}).items():
        where = f"{path}.{name}"
        if where.count(".") == 1 and name == "metadata":
            continue  # the API server describes ObjectMeta itself and forbids a description here
        if not sub.get("description"):
            missing.append(where)
        missing += _fields_without_description(sub, where)
    if isinstance(node.get("items"), dict):
        missing += _fields_without_description(node["items"], f"{path}[]")
    return missing


@pytest.mark.parametrize("crd", all_crds(), ids=lambda crd: crd["spec"]["names"]["kind"])
def test_every_field_is_described_for_kubectl_explain(crd: dict[str, Any]) -> None:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema["description"]
    assert _fields_without_description(schema, crd["spec"]["names"]["kind"]) == []


def test_a_field_description_is_its_docstring_on_one_line() -> None:
    policy = next(crd for crd in all_crds() if crd["spec"]["names"]["kind"] == "SriovNetworkNodePolicy")
    spec = policy["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    net_filter = spec["properties"]["nicSelector"]["properties"]["netFilter"]["description"]
    assert net_filter.startswith(
        "Select by the network the device is attached to, on VMs: openstack/NetworkID:"
    )
    assert "\n" not in net_filter and "  " not in net_filter


def test_checked_in_multus_crd_matches_its_source() -> None:
    path = REPO_ROOT / "deploy" / "multus" / DEPLOY_FILE
    assert path.read_text() == render_nad_crd_yaml()
