"""Bounded fuzzing of the two readers that take outside input: manifests and config drive images.

Whatever the bytes, the reader either returns or raises its own one-line error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriov_operator.host.openstack.configdrive import read_config_drive
from sriov_operator.host.openstack.metadata import MetadataError
from sriov_operator.host.simulator.config_drive_image import write_config_drive_image
from sriov_operator.manifests import ManifestError, load_text
from tests.support import FIXTURES

YAML_PIECES = st.sampled_from(
    [
        "kind: X\n",
        "a: ",
        "- ",
        "  ",
        "\t",
        "\n",
        "&a ",
        "*a ",
        "!!int ",
        "!!timestamp ",
        "!!float ",
        "!!binary ",
        "!!python/object ",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "? ",
        "'",
        '"',
        "\\",
        "#",
        "---\n",
        "...\n",
        "|\n",
        ">\n",
        "<<: ",
        "0x1F",
        "2024-02-30",
        "1e999",
        "9" * 40,
        "\x00",
        "\x07",
        "\ufeff",
        "é",
        "%YAML 1.1\n",
    ]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(YAML_PIECES | st.text(max_size=8), max_size=60).map("".join))
def test_the_manifest_loader_returns_or_raises_one_line(text: str) -> None:
    try:
        result = load_text(text, "fuzz.yaml")
    except ManifestError as error:
        message = str(error)
        assert message.startswith("fuzz.yaml") and "\n" not in message and len(message) < 600
        return
    for document in result.documents:
        assert isinstance(document.body, dict)
        json.dumps(document.body, default=repr)  # plain data, no YAML objects


@pytest.fixture(scope="module")
def drive_image(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    files = {
        f"openstack/latest/{name}": (FIXTURES / "openstack" / name).read_bytes()
        for name in ("meta_data.json", "network_data.json")
    }
    path = tmp_path_factory.mktemp("drive") / "config-2.iso"
    write_config_drive_image(files, path)
    return path.read_bytes()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=64 * 2048), st.binary(min_size=1, max_size=8)),
        max_size=12,
    ),
    st.integers(min_value=16 * 2048, max_value=64 * 2048) | st.none(),
)
def test_the_config_drive_reader_returns_or_raises_a_metadata_error(
    drive_image: bytes, tmp_path: Path, edits: list[tuple[int, bytes]], cut: int | None
) -> None:
    image = bytearray(drive_image)
    for offset, data in edits:
        image[offset : offset + len(data)] = data
    path = tmp_path / "fuzzed.iso"
    path.write_bytes(bytes(image[:cut] if cut else image))
    try:
        metadata = read_config_drive(path)
    except MetadataError as error:
        assert "\n" not in str(error) and len(str(error)) < 800
        return
    assert isinstance(metadata.meta_data.devices, list)
