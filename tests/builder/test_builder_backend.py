"""The builder drives containers only through its backend (nbdock/builder/backend.py)."""

import ast
import inspect

import nbdock.builder.builder as builder_module
from nbdock.builder.backend import BuildBackend
from nbdock.engine.buildbackend import EngineBuildBackend


def _imported_modules(module) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_builder_imports_no_engine_module():
    engine_imports = [name for name in _imported_modules(builder_module) if "engine" in name]
    assert engine_imports == []


def test_the_engine_implements_every_operation_of_the_backend():
    wanted = {name for name, _ in inspect.getmembers(BuildBackend, inspect.isfunction) if not name.startswith("_")}
    assert wanted == {"create", "listen", "start", "wait", "remove", "upper_dir", "pull", "tag"}
    for name in wanted:
        ours, theirs = inspect.signature(getattr(EngineBuildBackend, name)), inspect.signature(getattr(BuildBackend, name))
        assert list(ours.parameters) == list(theirs.parameters), name
