"""Reading manifests: tabs tolerated with a warning, every error with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriov_operator.manifests import ManifestError, load_paths, load_text
from tests.support import FIXTURES


def test_seed_policies_load_despite_tab_indentation() -> None:
    result = load_paths([FIXTURES / "seed"])
    bodies = {d.body["metadata"]["name"]: d.body for d in result.documents}
    assert set(bodies) == {"dpdk1", "hwoffload1"}
    assert bodies["dpdk1"]["spec"]["nicSelector"] == {
        "netFilter": "openstack/NetworkID:55a54d05-9ec1-4051-8adb-1b5a7be4f1b6"
    }
    assert bodies["hwoffload1"]["spec"]["isRdma"] is True
    assert len(result.warnings) == 2 and all("tabs" in w and ":9:" in w for w in result.warnings)


def test_clean_yaml_gives_no_warning_and_document_lines() -> None:
    result = load_text("a: 1\nkind: X\n---\n\nkind: Y\n", "f.yaml")
    assert result.warnings == []
    assert [(d.kind, d.line) for d in result.documents] == [("X", 1), ("Y", 5)]


def test_list_documents_are_flattened() -> None:
    result = load_text('{"kind": "List", "items": [{"kind": "Node"}, {"kind": "Node"}]}', "l.json")
    assert [d.kind for d in result.documents] == ["Node", "Node"]


def test_malformed_yaml_names_file_line_and_column() -> None:
    with pytest.raises(ManifestError) as raised:
        load_text("kind: X\nspec:\n  a: [1, 2\n  b: 3\n", "broken.yaml")
    assert str(raised.value).startswith("broken.yaml:")
    assert "malformed YAML/JSON" in str(raised.value)


def test_non_mapping_document_is_an_error_with_its_line() -> None:
    with pytest.raises(ManifestError, match=r"^s\.yaml:3: expected a mapping"):
        load_text("kind: X\n---\n- 1\n- 2\n", "s.yaml")


def test_directories_are_walked_in_order_and_missing_paths_reported(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("kind: B\n")
    (tmp_path / "a.json").write_text('{"kind": "A"}')
    (tmp_path / "notes.txt").write_text("ignored")
    assert [d.kind for d in load_paths([tmp_path]).documents] == ["A", "B"]
    with pytest.raises(ManifestError, match="no such file"):
        load_paths([tmp_path / "missing.yaml"])


def alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("kind: X\nname: a\x00b\n", "unacceptable character #x0000"),
        ("kind: X\nname: \x07\n", "unacceptable character #x0007"),
        ("kind: X\nport: !!int eighty\n", "2:7: malformed YAML/JSON: invalid int value 'eighty'"),
        ("kind: X\nwhen: !!timestamp 2024-13-45\n", "2:7: malformed YAML/JSON: invalid timestamp value"),
        ("kind: X\nratio: !!float many\n", "invalid float value 'many'"),
        ("kind: X\nwhen: !!timestamp\n", "invalid timestamp value ''"),
        ("kind: X\nport: !!int\n", "invalid int value ''"),
        ("kind: X\nn: " + "9" * 50_000 + "\n", "2:4: malformed YAML/JSON: invalid int value"),
        ("kind: X\nd: " + "[" * 10_000 + "]" * 10_000 + "\n", "nested deeper than 100 levels"),
        ("kind: X\n" + alias_bomb(9), "values once aliases are expanded"),
        ("kind: X\na: &a 1\nl: [" + ", ".join(["*a"] * 101) + "]\n", "more than 100 aliases"),
    ],
)
def test_hostile_input_is_one_short_line(text: str, words: str) -> None:
    with pytest.raises(ManifestError) as caught:
        load_text(text, "evil.yaml")
    message = str(caught.value)
    assert words in message and message.startswith("evil.yaml:")
    assert "\n" not in message and len(message) < 400


def test_dates_stay_text_and_small_anchors_still_work() -> None:
    text = "kind: X\nwhen: 2024-01-02\nbase: &b {mtu: 9000}\nuse: *b\n"
    body = load_text(text).documents[0].body
    assert body["when"] == "2024-01-02" and body["use"] == {"mtu": 9000}


def test_an_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as out:
        out.truncate(9 * 1024 * 1024)
    with pytest.raises(ManifestError, match=r"big\.yaml: larger than 8 MiB"):
        load_paths([big])
