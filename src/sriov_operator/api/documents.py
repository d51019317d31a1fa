"""One Kubernetes document as the engine reads it, with where it came from (file:line, or a review)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
