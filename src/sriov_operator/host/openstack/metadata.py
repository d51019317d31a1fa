"""The parts of Nova's ``meta_data.json`` and ``network_data.json`` the operator uses."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from sriov_operator.errors import HostError

METADATA_VERSIONS = ("2018-08-27", "latest")
META_DATA_FILE = "meta_data.json"
NETWORK_DATA_FILE = "network_data.json"


class MetadataError(HostError):
    """OpenStack metadata could not be obtained or read; the message says what and where."""


class _NovaModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NovaDevice(_NovaModel):
    type: str = ""
    bus: str = ""
    address: str = ""
    mac: str = ""


class NovaLink(_NovaModel):
    id: str
    type: str = ""
    ethernet_mac_address: str = ""


class NovaNetwork(_NovaModel):
    id: str = ""
    link: str = ""
    network_id: str = ""


class MetaData(_NovaModel):
    devices: list[NovaDevice] = []


class NetworkData(_NovaModel):
    links: list[NovaLink] = []
    networks: list[NovaNetwork] = []


class OpenStackMetadata(_NovaModel):
    meta_data: MetaData
    network_data: NetworkData


def parse_metadata_documents(meta_data: bytes, network_data: bytes, where: str) -> OpenStackMetadata:
    """Both documents, validated; ``where`` (a URL or device) names the source in errors."""
    documents: dict[str, Any] = {}
    for name, raw in ((META_DATA_FILE, meta_data), (NETWORK_DATA_FILE, network_data)):
        try:
            documents[name] = json.loads(raw)
        except (ValueError, RecursionError) as error:  # bad JSON or bytes, huge numbers, deep nesting
            problem = "nested too deeply" if isinstance(error, RecursionError) else str(error)[:200]
            raise MetadataError(f"{where}: {name} is not valid JSON: {problem}") from None
    try:
        return OpenStackMetadata(
            meta_data=MetaData.model_validate(documents[META_DATA_FILE]),
            network_data=NetworkData.model_validate(documents[NETWORK_DATA_FILE]),
        )
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"])[:200]
        problem = first["msg"][:200]
        raise MetadataError(f"{where}: unexpected metadata shape at {location}: {problem}") from None
