"""The house's floors, as docs/ARCHITECTURE.md draws them, checked from the source.

Every ``import`` of an nbdock module is read with :mod:`ast` (no module is
imported, so this runs anywhere, without root).  Imports inside functions
count too -- a lazy import is still a dependency -- except those under
``if TYPE_CHECKING:``, which exist only for the type checker.

Three rules:

* a package imports only the packages its floor may stand on (``MAY_IMPORT``);
* no import cycle joins modules of different packages (a cycle inside one
  package is that package's own business; across packages it means two
  concepts cannot be understood apart);
* the engine's modules have no import cycle among themselves either, even
  counting the ``TYPE_CHECKING`` imports: engine.py alone wires its services.
"""

from __future__ import annotations

import ast
import pathlib
from collections import defaultdict

import pytest

SOURCE = pathlib.Path(__file__).resolve().parent.parent / "nbdock"

#: The small modules at the top of the package that every floor may use.
COMMON = {"errors", "goformat", "units", "defaults", "__version__"}

#: For each package (or top-level module), the other packages it may import, besides COMMON.
#: Read from the bottom up: the kernel floor stands on nothing; the daemon on the engine; the
#: clients never on the engine or the daemon (they talk HTTP), only on the pure libraries that
#: the daemon shares with them (image references, tar safety, the trace's words, build contexts).
MAY_IMPORT: dict[str, set[str]] = {
    "kernel": set(),
    "errors": set(),
    "goformat": set(),
    "units": set(),
    "defaults": set(),
    "image": {"kernel"},
    "runtime": {"kernel", "image"},
    "registry": {"image"},
    "network": {"kernel", "runtime"},
    "builder": {"kernel", "image", "registry", "runtime"},
    "engine": {"kernel", "image", "runtime", "registry", "network", "builder"},
    "daemon": {"kernel", "image", "runtime", "registry", "network", "builder", "engine"},
    "client": {"image", "registry", "builder", "runtime"},
    "views": {"client", "runtime"},
    "magics": {"client", "views"},
    "tour": {"client", "runtime"},
    "cli": {"client", "daemon"},
    "__main__": {"cli"},
    "__init__": {"magics"},  # the package itself: load_ipython_extension
}


#: What ``import nbdock`` or ``from nbdock import __version__`` depends on: the package's metadata.
VERSION = "nbdock.__version__"


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """``nbdock.engine.containers.spec`` -> ``engine``; the package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(n) for n in ast.walk(node))
    return hidden


def imports_of(path: pathlib.Path, modules: set[str], *, type_checking: bool = False) -> set[str]:
    """The nbdock modules the file imports (``from pkg import name`` counts ``pkg.name`` when that is a module);
    with ``type_checking``, those under ``if TYPE_CHECKING:`` too."""
    this = module_name(path)
    package = this.split(".") if path.name == "__init__.py" else this.split(".")[:-1]
    tree = ast.parse(path.read_text(), filename=str(path))
    hidden = set() if type_checking else _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            # ``import nbdock`` reads the package's metadata (its version); the package's own
            # __init__ only loads the magics when IPython asks, so it is not a dependency on them.
            found.update(VERSION if alias.name == "nbdock" else alias.name
                         for alias in node.names if alias.name.split(".")[0] == "nbdock")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "nbdock":
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in modules else VERSION if target == "nbdock" else target)
    found.discard(this)
    return found


def import_graph(*, type_checking: bool = False) -> dict[str, set[str]]:
    files = {module_name(p): p for p in SOURCE.rglob("*.py")}
    modules = set(files) | {VERSION}
    return {name: imports_of(path, modules, type_checking=type_checking) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


GRAPH = import_graph()


def test_every_package_has_a_floor():
    packages = {package_of(m) for m in GRAPH}
    assert packages <= set(MAY_IMPORT) | {"__version__"}, f"packages without a floor: {packages - set(MAY_IMPORT)}"


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_floors_below_it(package):
    allowed = MAY_IMPORT[package] | COMMON | {package}
    wrong = sorted(f"{module} imports {target}"
                   for module, targets in GRAPH.items() if package_of(module) == package
                   for target in targets if package_of(target) not in allowed)
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_crosses_a_package_line():
    crossing = [c for c in cycles(GRAPH) if len({package_of(m) for m in c}) > 1]
    assert not crossing, "\n".join(" <-> ".join(c) for c in crossing)


def test_the_cycle_finder_finds_a_cycle():
    """The check above can fail: a made-up graph with one cycle across two packages."""
    graph = {"nbdock.a.x": {"nbdock.b.y"}, "nbdock.b.y": {"nbdock.a.x"}, "nbdock.a.z": set()}
    assert cycles(graph) == [["nbdock.a.x", "nbdock.b.y"]]


def test_the_engines_modules_import_each_other_without_a_circle():
    """The engine is wired in one place (engine.py gives each service its collaborators), so no engine
    module imports another that leads back to it -- counting imports made for type hints only: a
    service that names another's type depends on it as much as one that calls it."""
    graph = import_graph(type_checking=True)
    circles = [c for c in cycles(graph) if {package_of(m) for m in c} == {"engine"}]
    assert not circles, "\n".join(" <-> ".join(c) for c in circles)


def cycles_within(package: str) -> list[list[str]]:
    return [c for c in cycles(GRAPH) if {package_of(m) for m in c} == {package}]


def test_report_cycles_within_packages(capsys):
    """Not a rule yet: cycles inside one package are printed, for the maintainer to see them shrink."""
    inside = defaultdict(list)
    for component in cycles(GRAPH):
        packages = {package_of(m) for m in component}
        if len(packages) == 1:
            inside[packages.pop()].append(component)
    for package, components in sorted(inside.items()):
        for component in components:
            print(f"{package}: {' <-> '.join(component)}")
