"""Problems found while reading, validating or rendering objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from sriov_operator.api.refs import ObjectRef

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    ref: ObjectRef
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.ref}: {self.field}: {self.message}"


def shown(value: Any, *, quote: bool = True) -> str:
    """A value as a user wrote it in YAML: strings quoted, anything else JSON (``true``, ``null``, ``{…}``).

    Never a Python repr: a message says ``{"ovs":{}}``, not ``Bridge(ovs=OVSConfig(...))``.
    ``quote=False``: strings bare, where the sentence makes clear where one ends.
    """
    if isinstance(value, str):
        return repr(value) if quote else value
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True, exclude_none=True, mode="json")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def error(ref: ObjectRef, field: str, message: str) -> Problem:
    return Problem(ref, field, message, "error")


def warning(ref: ObjectRef, field: str, message: str) -> Problem:
    return Problem(ref, field, message, "warning")


def split_by_severity(problems: list[Problem]) -> tuple[list[str], list[str]]:
    """(errors, warnings) as sorted, de-duplicated lines, so output never depends on input order."""
    errors = sorted({str(p) for p in problems if p.severity == "error"})
    warnings = sorted({str(p) for p in problems if p.severity == "warning"})
    return errors, warnings
