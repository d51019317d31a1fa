"""Objects with value tokens become Go templates (install/helm.py), checked without helm."""

from __future__ import annotations

from sriov_operator.install.helm import template_text
from sriov_operator.install.values import Defaults, HelmValues, nested, value_table


def _container(v: HelmValues | Defaults) -> dict[str, object]:
    return {
        "metadata": {"namespace": v.namespace},
        "spec": {
            "replicas": v.number("operator.replicas"),
            "resources": v.block("operator.resources"),
            "env": [{"name": "A", "value": v.text("operator.logLevel")}, *v.env("operator.extraEnv")],
        },
    }


def test_tokens_become_inline_expressions_blocks_and_ranges() -> None:
    values = HelmValues()
    text = template_text([_container(values)], values)
    assert text.splitlines() == [
        "metadata:",
        "  namespace: {{ .Release.Namespace | quote }}",
        "spec:",
        "  replicas: {{ .Values.operator.replicas }}",
        "  resources:",
        "    {{- toYaml .Values.operator.resources | nindent 4 }}",
        "  env:",
        "  - name: A",
        "    value: {{ .Values.operator.logLevel | quote }}",
        "  {{- range $name, $value := .Values.operator.extraEnv }}",
        "  - name: {{ $name }}",
        "    value: {{ $value | quote }}",
        "  {{- end }}",
    ]


def test_a_condition_wraps_the_whole_file() -> None:
    values = HelmValues()
    text = template_text(
        [{"kind": "X", "n": values.number("operator.replicas")}], values, ".Values.multus.installCRD"
    )
    assert text.startswith("{{- if .Values.multus.installCRD }}\n") and text.endswith("{{- end }}\n")


def test_a_guard_comes_before_the_condition_that_uses_it() -> None:
    values = HelmValues()
    text = template_text(
        [{"kind": "X"}], values, "not $found", guard='{{- $found := lookup "v1" "X" "" "x" }}\n'
    )
    assert text.splitlines()[:2] == ['{{- $found := lookup "v1" "X" "" "x" }}', "{{- if not $found }}"]


def test_a_list_of_names_becomes_a_range_and_a_joined_value() -> None:
    values = HelmValues()
    spec = {"imagePullSecrets": values.names("imagePullSecrets"), "v": values.joined("imagePullSecrets")}
    assert template_text([spec], values).splitlines() == [
        "imagePullSecrets:",
        "{{- range .Values.imagePullSecrets }}",
        "- name: {{ . | quote }}",
        "{{- end }}",
        'v: {{ join "," .Values.imagePullSecrets | quote }}',
    ]
    filled = Defaults({"imagePullSecrets": ["a", "b"]})
    assert filled.names("imagePullSecrets") == [{"name": "a"}, {"name": "b"}]
    assert filled.joined("imagePullSecrets") == "a,b"


def test_the_same_description_filled_in_holds_the_defaults() -> None:
    filled = _container(Defaults(nested(value_table("v9.9.9")), namespace="ns"))
    assert filled == {
        "metadata": {"namespace": "ns"},
        "spec": {
            "replicas": 2,
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
            "env": [{"name": "A", "value": "INFO"}],
        },
    }
