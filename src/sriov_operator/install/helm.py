"""Helm templates: objects dumped as YAML, their value tokens turned into Go template."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from sriov_operator.install.values import HelmValues, Marker

_TOKEN = re.compile(r"__helm_value_\d+__")
_KEYED_LINE = re.compile(r"^(?P<indent>\s*)(?P<dash>- )?(?P<key>[\w.-]+): (?P<token>__helm_value_\d+__)$")
_ITEM_LINE = re.compile(r"^(?P<indent>\s*)- (?P<token>__helm_value_\d+__)$")


def dump(objects: Sequence[dict[str, Any]]) -> str:
    return "---\n".join(yaml.safe_dump(obj, sort_keys=False, width=10_000) for obj in objects)


def _block(match: re.Match[str], marker: Marker) -> list[str]:
    indent, dash = match["indent"], match["dash"] or ""
    inner = len(indent) + len(dash) + 2
    return [
        f"{indent}{dash}{match['key']}:",
        f"{' ' * inner}{{{{- toYaml {marker.expression} | nindent {inner} }}}}",
    ]


def _env(indent: str, marker: Marker) -> list[str]:
    return [
        f"{indent}{{{{- range $name, $value := {marker.expression} }}}}",
        f"{indent}- name: {{{{ $name }}}}",
        f"{indent}  value: {{{{ $value | quote }}}}",
        f"{indent}{{{{- end }}}}",
    ]


def _names(match: re.Match[str], marker: Marker) -> list[str]:
    indent = match["indent"]
    return [
        f"{indent}{match['dash'] or ''}{match['key']}:",
        f"{indent}{{{{- range {marker.expression} }}}}",
        f"{indent}- name: {{{{ . | quote }}}}",
        f"{indent}{{{{- end }}}}",
    ]


def _line(line: str, markers: dict[str, Marker]) -> list[str]:
    keyed = _KEYED_LINE.match(line)
    if keyed and markers[keyed["token"]].kind == "block":
        return _block(keyed, markers[keyed["token"]])
    if keyed and markers[keyed["token"]].kind == "names":
        return _names(keyed, markers[keyed["token"]])
    item = _ITEM_LINE.match(line)
    if item and markers[item["token"]].kind == "env":
        return _env(item["indent"], markers[item["token"]])
    return [_TOKEN.sub(lambda m: markers[m[0]].expression, line)]


def template_text(
    objects: Sequence[dict[str, Any]], values: HelmValues, condition: str | None = None, guard: str = ""
) -> str:
    """A template file: the objects with every token replaced, inside ``if .Values.<condition>``.

    ``guard``: template lines before the ``if`` (defining variables the condition uses).
    """
    lines = [part for line in dump(objects).splitlines() for part in _line(line, values.markers)]
    body = "\n".join(lines) + "\n"
    if condition is None:
        return body
    return f"{guard}{{{{- if {condition} }}}}\n{body}{{{{- end }}}}\n"
