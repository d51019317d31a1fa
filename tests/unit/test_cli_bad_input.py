"""Every command that reads files answers bad input alike: exit 2 and one line on stderr naming the file.

docs/cli.md: exit 2 is "input the command cannot take (unreadable file, …)". ``validate`` and
``render`` used to exit 1 for it, as for an invalid object; ``diff`` and ``plan`` exited 2.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from sriov_operator.cli import main
from tests.unit.engine.builders import policy, worker

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)
BAD_INPUTS: dict[str, Callable[[Path], None]] = {
    "missing file": lambda path: None,
    "not UTF-8": lambda path: path.write_bytes(b"kind: \xff\xfe\n"),
    "NUL byte": lambda path: path.write_bytes(b"kind: SriovNetworkNodePolicy\x00\n"),
    "YAML alias bomb": lambda path: path.write_text(ALIAS_BOMB),
    "malformed YAML": lambda path: path.write_text("kind: X\nmetadata:\n  name: x\n spec: [\n"),
}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("host") / "root"
    assert main(["simulate-host", "--profile", "baremetal-intel", "--out", str(root)]) == 0
    return root


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all([*worker(), policy("p")]))
    return path


def _commands(bad: Path, good: Path, host: Path) -> dict[str, list[str]]:
    simulated = ["--host-root", str(host), "--simulate"]
    return {
        "validate": ["validate", "-f", str(bad)],
        "render": ["render", "-f", str(bad)],
        "diff -f": ["diff", "--from", str(good), "-f", str(bad)],
        "diff --from": ["diff", "--from", str(bad), "-f", str(good)],
        "plan": ["plan", *simulated, "--state", str(bad)],
        "apply": ["apply", *simulated, "--state", str(bad)],
    }


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_each_command_exits_2_on_a_file_it_cannot_take(
    kind: str, tmp_path: Path, good: Path, host: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    BAD_INPUTS[kind](bad)
    for name, argv in _commands(bad, good, host).items():
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, f"{name}: {kind}: exit {code}: {err}"
        [line] = [line for line in err.splitlines() if str(bad) in line]
        assert line.startswith(f"sriov-operator {argv[0]}: "), line
        assert "Traceback" not in err


def test_validate_still_reports_the_objects_of_the_files_it_could_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text(yaml.safe_dump_all([*worker(), policy("p", priority=120)]))
    assert main(["validate", "-f", str(invalid), "-f", str(tmp_path / "missing.yaml")]) == 2
    assert "spec.priority: got 120" in capsys.readouterr().out


def test_plan_asks_which_node_of_a_render_output_it_should_plan(
    tmp_path: Path, host: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(yaml.safe_dump_all([*worker("w1"), *worker("w2"), policy("p")]))
    assert main(["render", "-f", str(cluster), "-o", "yaml"]) == 0
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(capsys.readouterr().out)
    simulated = ["plan", "--host-root", str(host), "--simulate", "--state", str(rendered)]
    assert main(simulated) == 2
    assert f"{rendered}:1: render output for 2 nodes; --node: one of w1, w2" in capsys.readouterr().err
    assert main([*simulated, "--node", "w3"]) == 2
    assert "--node: 'w3' is not in" in capsys.readouterr().err
    assert main([*simulated, "--node", "w2", "-o", "yaml"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["requiresDrain"] is True


def test_discover_writes_a_node_state_render_reads(
    tmp_path: Path, host: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    simulated = ["discover", "--host-root", str(host), "--simulate", "-o", "nodestate"]
    assert main(simulated) == 2
    assert "--node: required with -o nodestate" in capsys.readouterr().err
    assert main([*simulated, "--node", "w1"]) == 0
    discovered = tmp_path / "w1.yaml"
    discovered.write_text(capsys.readouterr().out)
    state = yaml.safe_load(discovered.read_text())
    assert (state["kind"], state["metadata"]["name"]) == ("SriovNetworkNodeState", "w1")
    assert [i["name"] for i in state["status"]["interfaces"]] == ["ens1f0", "ens1f1"]
    others = tmp_path / "others.yaml"
    others.write_text(yaml.safe_dump_all([worker("w1")[0], policy("p")]))
    assert main(["render", "-f", str(discovered), "-f", str(others)]) == 0
    assert "nodeStates" in capsys.readouterr().out
