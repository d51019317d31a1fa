"""docs/architecture.md's recipes name files that exist, and the code follows the controller recipe."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

from sriov_operator.operator import controllers
from sriov_operator.runtime.controller import Controller
from tests.docs_examples import REPO_ROOT

ARCHITECTURE = (REPO_ROOT / "docs" / "architecture.md").read_text()
PACKAGE = REPO_ROOT / "src" / "sriov_operator"
RECIPES = re.findall(r"^## (Recipe: .+?)\n(.*?)(?=^## )", ARCHITECTURE, re.MULTILINE | re.DOTALL)
SHARED = {"view", "reconciler"}  # the shared view and the reconcilers' base, not controllers


def test_the_recipes_are_there() -> None:
    titles = {title for title, _ in RECIPES}
    assert {"Recipe: add a controller", "Recipe: add a policy field", "Recipe: add a webhook rule"} <= titles


@pytest.mark.parametrize(("title", "body"), RECIPES, ids=[title for title, _ in RECIPES])
def test_every_file_a_recipe_names_exists(title: str, body: str) -> None:
    named = [path for path in re.findall(r"`([\w./-]+\.py)`", body)]
    assert named, f"{title} names no file"
    missing = [
        path
        for path in named
        if not (REPO_ROOT / path).exists() and not (PACKAGE / path).exists() and not _in_a_layer(path)
    ]
    assert not missing, f"{title} names files that do not exist: {missing}"


def _in_a_layer(path: str) -> bool:
    """``controllers/view.py`` and the like: a path under one of the package's folders."""
    return any((folder / path).exists() for folder in PACKAGE.iterdir() if folder.is_dir())


def test_every_operator_controller_module_registers_through_one_signature() -> None:
    modules = [m.name for m in pkgutil.iter_modules(controllers.__path__) if m.name not in SHARED]
    assert modules
    for name in modules:
        module = importlib.import_module(f"{controllers.__name__}.{name}")
        register = getattr(module, "register", None)
        assert register is not None, f"controllers/{name}.py has no register(manager, settings)"
        signature = inspect.signature(register)
        assert list(signature.parameters) == ["manager", "settings"], f"controllers/{name}.py"
        assert signature.return_annotation in (Controller, "Controller"), f"controllers/{name}.py"
