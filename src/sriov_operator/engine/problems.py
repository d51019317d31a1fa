"""Problems found while reading, validating or rendering objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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


def error(ref: ObjectRef, field: str, message: str) -> Problem:
    return Problem(ref, field, message, "error")


def warning(ref: ObjectRef, field: str, message: str) -> Problem:
    return Problem(ref, field, message, "warning")


def split_by_severity(problems: list[Problem]) -> tuple[list[str], list[str]]:
    """(errors, warnings) as sorted, de-duplicated lines, so output never depends on input order."""
    errors = sorted({str(p) for p in problems if p.severity == "error"})
    warnings = sorted({str(p) for p in problems if p.severity == "warning"})
    return errors, warnings
