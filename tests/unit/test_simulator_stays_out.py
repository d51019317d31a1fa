"""Production code never imports the simulator: only itself, the CLI, the sandbox and the VM toolkit do."""

from __future__ import annotations

import ast
from pathlib import Path

import sriov_operator

PACKAGE = Path(sriov_operator.__file__).parent
SIMULATOR = "sriov_operator.host.simulator"
ALLOWED = ("host/simulator/", "commands/", "sandbox/", "vmtest/")  # vmtest: test infrastructure


def imported_modules(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(), str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def importers_of(module: str, allowed: tuple[str, ...]) -> list[str]:
    """Files of the package (outside the ``allowed`` folders) that import ``module`` or a submodule."""
    found = []
    for source in sorted(PACKAGE.rglob("*.py")):
        relative = source.relative_to(PACKAGE).as_posix()
        if relative.startswith(allowed):
            continue
        if any(name == module or name.startswith(module + ".") for name in imported_modules(source)):
            found.append(relative)
    return found


def simulator_importers() -> list[str]:
    return importers_of(SIMULATOR, ALLOWED)


def test_no_production_module_imports_the_simulator() -> None:
    assert simulator_importers() == []


def test_the_check_sees_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from sriov_operator.host import simulator\n")
    assert f"{SIMULATOR}" in imported_modules(sample)
    sample.write_text("from sriov_operator.host.simulator.host_io import simulated_io\n")
    assert f"{SIMULATOR}.host_io" in imported_modules(sample)
