"""Base classes shared by every API model.

Python attribute names are snake_case; the JSON names are upstream's (mostly
camelCase, with a few odd ones such as ``Vfs`` and ``deviceID`` set per field).

Serialization follows Go's ``omitempty``: an optional field whose value is empty
(None, False, "", 0, [], {}) *and equal to its default* is left out.  A value
that differs from a non-empty default is always written — ``priority: 0`` must
never be dropped, or the CRD default (99) would silently replace it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, SerializationInfo, SerializerFunctionWrapHandler, model_serializer
from pydantic.alias_generators import to_camel


def _is_empty(value: object) -> bool:
    """Go's omitempty: None, False, "", 0 (an int, not a bool or float), or an empty container."""
    if value is None or value is False:
        return True
    if isinstance(value, list | dict | tuple | set | frozenset):
        return len(value) == 0
    return (type(value) is str and value == "") or (type(value) is int and value == 0)


@cache
def _omittable(model: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    """(name, JSON name) of the optional fields whose default is empty: left out when empty."""
    return tuple(
        (name, field.alias or name)
        for name, field in model.model_fields.items()
        if not field.is_required() and _is_empty(field.get_default(call_default_factory=True))
    )


class ApiModel(BaseModel):
    """A part of an object's spec or status; unknown fields are rejected by name."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_assignment=False,
        # A field's docstring is its description in the CRD (what `kubectl explain` prints).
        use_attribute_docstrings=True,
    )

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        for name, alias in _omittable(type(self)):
            if _is_empty(getattr(self, name)):
                data.pop(alias if info.by_alias else name, None)
        return data

    def to_k8s(self) -> dict[str, Any]:
        """The upstream JSON form (aliases, omitempty)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class LooseModel(BaseModel):
    """Kubernetes-owned structures we read but do not validate in depth (metadata, conditions)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")
