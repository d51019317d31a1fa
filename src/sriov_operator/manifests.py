"""Read Kubernetes documents from YAML/JSON files, with file and line for every problem.

Manifests copied from web pages often arrive indented with tabs, which YAML
forbids (the DPDK and OVS-offload example policies, ``dpdk1`` and
``hwoffload1``, are such a case).  We read leading
tabs as 8-column tab stops — what the author saw on the page — and say so in a
warning instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sriov_operator.api.documents import Document
from sriov_operator.errors import BadInputError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_INPUT_BYTES = 8 * 1024 * 1024  # far above any manifest; keeps a huge file from filling memory
MAX_DEPTH = 100  # nesting of mappings and lists; Kubernetes objects stay far below it
MAX_ALIASES = 100  # YAML aliases per document: enough for hand-written anchors
MAX_EXPANDED_NODES = 200_000  # values in a document once aliases are expanded: stops an alias bomb
MAX_PROBLEM_CHARS = 200  # quoted input in error messages is cut here


class _KubernetesLoader(yaml.SafeLoader):
    """PyYAML's safe loader with limits, reading values the way Kubernetes tools do.

    - nesting depth and aliases are capped (deep input or an alias bomb is an error,
      not a RecursionError or a blown-up object);
    - a scalar that fails its tag (``!!int abc``, an impossible date, an integer
      of thousands of digits) is an error at its line;
    - timestamps and ``!!binary`` stay the text they were written as (JSON has
      neither dates nor bytes).
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._aliases = 0
        self._expanded: dict[int, int] = {}  # id(node) -> values under it with aliases expanded

    def _too_much(self, problem: str, mark: yaml.Mark) -> yaml.composer.ComposerError:
        return yaml.composer.ComposerError(None, None, problem, mark)

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise self._too_much(f"more than {MAX_ALIASES} aliases", mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise self._too_much(f"nested deeper than {MAX_DEPTH} levels", mark)
            node: yaml.Node | None = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None and id(node) not in self._expanded:
            self._expanded[id(node)] = self._expanded_size(node, mark)
        return node

    def _expanded_size(self, node: yaml.Node, mark: yaml.Mark) -> int:
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        size = 1 + sum(self._expanded.get(id(child), 1) for child in children)
        if size > MAX_EXPANDED_NODES:
            raise self._too_much(f"more than {MAX_EXPANDED_NODES} values once aliases are expanded", mark)
        return size

    def compose_document(self) -> yaml.Node | None:
        self._expanded.clear()
        return super().compose_document()

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, IndexError, TypeError, AttributeError) as error:
            value = str(node.value)[:40] if isinstance(node, yaml.ScalarNode) else ""
            problem = f"invalid {node.tag.rsplit(':', 1)[-1]} value {value!r}: {error}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> str:  # type: ignore[override]
        super().construct_yaml_timestamp(node)  # validates the date
        return str(self.construct_scalar(node))

    def construct_yaml_binary(self, node: yaml.ScalarNode) -> str:  # type: ignore[override]
        super().construct_yaml_binary(node)  # validates the base64
        return "".join(str(self.construct_scalar(node)).split())


_KubernetesLoader.add_constructor("tag:yaml.org,2002:timestamp", _KubernetesLoader.construct_yaml_timestamp)
_KubernetesLoader.add_constructor("tag:yaml.org,2002:binary", _KubernetesLoader.construct_yaml_binary)


class ManifestError(BadInputError):
    """A file that cannot be read as Kubernetes documents; the message has file:line."""


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _expand_leading_tabs(text: str, source: str, warnings: list[str]) -> str:
    lines = text.split("\n")
    first_tab_line = 0
    for index, line in enumerate(lines):
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)]
        if "\t" in indent:
            lines[index] = indent.expandtabs(8) + stripped
            first_tab_line = first_tab_line or index + 1
    if first_tab_line:
        warnings.append(
            f"{source}:{first_tab_line}: indentation uses tabs, which YAML forbids; "
            "read them as 8-column tab stops (kubectl would reject this file)"
        )
        return "\n".join(lines)
    return text


def _one_line(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= MAX_PROBLEM_CHARS else flat[:MAX_PROBLEM_CHARS] + "…"


def _documents(text: str, source: str) -> Iterator[Document]:
    try:
        loader = _KubernetesLoader(text)
    except yaml.reader.ReaderError as error:
        raise ManifestError(f"{source}: cannot read: {_one_line(error)}") from None
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            body = loader.construct_document(node)
            if body is None:
                continue
            if not isinstance(body, dict):
                raise ManifestError(
                    f"{source}:{line}: expected a mapping (a Kubernetes object), got {type(body).__name__}"
                )
            if body.get("kind") == "List" or (str(body.get("kind", "")).endswith("List") and "items" in body):
                for item in body.get("items") or []:
                    if not isinstance(item, dict):
                        raise ManifestError(f"{source}:{line}: every item of a List must be a mapping")
                    yield Document(source, line, item)
            else:
                yield Document(source, line, body)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ManifestError(
            f"{where}: malformed YAML/JSON: {_one_line(error.problem or error.context)}"
        ) from None
    except yaml.YAMLError as error:
        raise ManifestError(f"{source}: malformed YAML/JSON: {_one_line(error)}") from None
    finally:
        loader.dispose()


def load_text(text: str, source: str = "<stdin>") -> LoadResult:
    if len(text) > MAX_INPUT_BYTES:
        raise ManifestError(f"{source}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB; not a manifest")
    result = LoadResult()
    text = _expand_leading_tabs(text, source, result.warnings)
    result.documents.extend(_documents(text, source))
    return result


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories walked for *.yaml, *.yml and *.json, in sorted order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in MANIFEST_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise ManifestError(f"{path}: no such file or directory")
    return files


def load_paths(paths: Iterable[Path]) -> LoadResult:
    """Load every document; a malformed file raises ManifestError naming file and line."""
    result = LoadResult()
    for path in expand_paths(paths):
        try:
            if path.stat().st_size > MAX_INPUT_BYTES:
                raise ManifestError(
                    f"{path}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB; not a manifest"
                )
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise ManifestError(f"{path}: cannot read: {_one_line(error)}") from None
        loaded = load_text(text, str(path))
        result.documents.extend(loaded.documents)
        result.warnings.extend(loaded.warnings)
    return result
