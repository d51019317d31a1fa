"""Read Kubernetes documents from YAML/JSON files, with file and line for every problem.

Manifests copied from web pages often arrive indented with tabs, which YAML
forbids (the two policies of the seed article are such a case).  We read leading
tabs as 8-column tab stops — what the author saw on the page — and say so in a
warning instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sriov_operator.errors import BadInputError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Document:
    source: str
    line: int  # 1-based line where the document starts
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


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


def _documents(text: str, source: str) -> Iterator[Document]:
    loader = yaml.SafeLoader(text)
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
        raise ManifestError(f"{where}: malformed YAML/JSON: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise ManifestError(f"{source}: malformed YAML/JSON: {error}") from None
    finally:
        loader.dispose()


def load_text(text: str, source: str = "<stdin>") -> LoadResult:
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
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise ManifestError(f"{path}: cannot read: {error}") from None
        loaded = load_text(text, str(path))
        result.documents.extend(loaded.documents)
        result.warnings.extend(loaded.warnings)
    return result
