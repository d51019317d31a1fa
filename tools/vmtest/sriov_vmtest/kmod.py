"""Kernel module load order from ``modules.dep`` (for the initramfs, which has no modprobe)."""

from __future__ import annotations


def module_name(path: str) -> str:
    """``kernel/fs/9p/9p.ko`` -> ``9p``; ``-`` and ``_`` are the same in module names."""
    return path.rsplit("/", 1)[-1].removesuffix(".ko").replace("-", "_")


def parse_modules_dep(text: str) -> dict[str, tuple[str, list[str]]]:
    """Module name -> (its path, the paths it depends on)."""
    table: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        path, _, deps = line.partition(":")
        if path:
            table[module_name(path)] = (path, deps.split())
    return table


def load_order(modules_dep: str, builtin: str, wanted: list[str]) -> list[str]:
    """Paths of ``wanted`` and everything they need, dependencies first; built-in modules are skipped.

    >>> dep = "kernel/a.ko: kernel/b.ko kernel/c.ko\\nkernel/b.ko: kernel/c.ko\\nkernel/c.ko:\\n"
    >>> load_order(dep, "", ["a"])
    ['kernel/c.ko', 'kernel/b.ko', 'kernel/a.ko']
    """
    table = parse_modules_dep(modules_dep)
    builtins = {module_name(line) for line in builtin.split()}
    order: list[str] = []

    def visit(name: str) -> None:
        if name in builtins:
            return
        if name not in table:
            raise KeyError(f"kernel module {name}: neither in modules.dep nor built in")
        path, deps = table[name]
        for dep in deps:
            visit(module_name(dep))
        if path not in order:
            order.append(path)

    for name in wanted:
        visit(name.replace("-", "_"))
    return order
