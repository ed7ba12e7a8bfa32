"""The package's import graph: no cycles, no DAG imports, layers import downwards only.

Every module of ``pipelines`` is parsed with :mod:`ast` (nothing is imported, so this runs in
a second) and every ``import`` of a ``pipelines`` or ``dags`` module is an edge, wherever it
sits: at module level, in a function body (the lazy imports that keep import time low),
under ``if``/``try``. ``from pipelines.a import b`` is an edge to ``pipelines.a.b`` when that
is a module, else to ``pipelines.a``. A package's ``__init__`` running first is not an
edge: it is how Python loads any submodule, not a dependency of the importer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "pipelines"

#: (importer prefix, imported prefix, why): a layer never imports the one named.
FORBIDDEN_LAYERS: tuple[tuple[str, str, str], ...] = (
    ("pipelines.registry", "pipelines.serve", "serve is the top layer; registry sits below it"),
    ("pipelines.monitor", "pipelines.serve", "monitor reads what serve logs, not serve itself"),
    ("pipelines.serve", "pipelines.train", "serving loads registered models, it never trains"),
)

#: Known layer violations, (importer, imported) -> why it stays for now. Each entry must
#: still exist (the test fails on a stale one) and is removed together with the import.
KNOWN_LAYER_EXCEPTIONS: dict[tuple[str, str], str] = {
    # The fast path recognises the registered model's own estimator classes with
    # isinstance (LogCountRegressor, CappedFit). The classes are pickled into every
    # registered model under this module path, so moving them below serve changes what
    # older models unpickle to; it needs its own change with a compatibility alias.
    ("pipelines.serve.fast_path", "pipelines.train.model_zoo"):
        "isinstance checks on the pickled estimator classes",
    ("pipelines.serve.batch_predict", "pipelines.train.model_zoo"):
        "isinstance check on the pickled LogCountRegressor (same reason)",
    ("pipelines.serve.fast_path", "pipelines.train.scale_relative"):
        "isinstance check on the pickled scale-relative wrapper (same reason)",
}


def module_files(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``package_dir``."""
    root = package_dir.parent
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks: annotations only, never run."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            hidden |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
    return hidden


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterable[tuple[str, list[str]]]:
    """(module named, names taken from it) for every import statement anywhere in ``tree``
    that runs (imports under ``if TYPE_CHECKING:`` are for annotations only)."""
    hidden = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            yield from ((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, [alias.name for alias in node.names]


def import_graph(package_dir: Path, watched: tuple[str, ...] = ("pipelines", "dags")
                 ) -> dict[str, set[str]]:
    """Module -> the modules of the ``watched`` top-level packages it imports.

    ``import a.b.c`` is an edge to the longest known module of ``a.b.c``; ``from a import
    b`` to ``a.b`` when that is a module, else to ``a``. A name in a watched package outside
    ``package_dir`` (``dags``) is kept as written.
    """
    modules = module_files(package_dir)

    def resolve(name: str) -> str:
        found = name
        while found and found not in modules:
            found = found.rpartition(".")[0]
        return found or name

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = set()
        for base, names in _imports(tree, module, path.name == "__init__.py"):
            if base.split(".")[0] not in watched:
                continue
            if not names:
                targets.add(resolve(base))
            for name in names:
                submodule = f"{base}.{name}"
                targets.add(submodule if submodule in modules else resolve(base))
        targets.discard(module)
        graph[module] = targets
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One closed path per strongly connected component that has a cycle, e.g.
    ``[a, b, a]``. Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c in graph), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    components.append(component)
    return [_closed_path(graph, component) for component in components]


def _closed_path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first)."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"_closed_path: no cycle through {start}")  # pragma: no cover


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(PACKAGE_DIR)


def test_the_graph_covers_the_package(graph):
    assert len(graph) == len(module_files(PACKAGE_DIR)) > 50
    assert sum(len(targets) for targets in graph.values()) > 100


def test_no_import_cycles(graph):
    cycles = find_cycles(graph)
    assert not cycles, "import cycles between pipelines modules (break each one):\n" + "\n".join(
        "  " + " -> ".join(cycle) for cycle in cycles)


def test_pipelines_never_imports_dags(graph):
    found = sorted(f"{module} -> {target}" for module, targets in graph.items()
                   for target in targets if target.split(".")[0] == "dags")
    assert not found, ("pipelines imports dags (dags only wire pipelines functions; move the "
                       "code into pipelines): " + ", ".join(found))


def _in(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_layers_import_downwards_only(graph):
    found = {(module, target): why
             for module, targets in graph.items() for target in targets
             for importer, imported, why in FORBIDDEN_LAYERS
             if _in(module, importer) and _in(target, imported)}
    new = sorted(f"{m} -> {t} ({why})" for (m, t), why in found.items()
                 if (m, t) not in KNOWN_LAYER_EXCEPTIONS)
    assert not new, "layer violations:\n" + "\n".join(f"  {line}" for line in new)
    stale = sorted(f"{m} -> {t}" for m, t in KNOWN_LAYER_EXCEPTIONS if (m, t) not in found)
    assert not stale, ("KNOWN_LAYER_EXCEPTIONS lists imports that are gone; remove them: "
                       + ", ".join(stale))


# ---------------------------------------------------------- the checker on a tiny package


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pipelines"


def test_the_checker_sees_function_level_relative_and_dags_imports(tmp_path):
    package = _write(tmp_path, {
        "pipelines/__init__.py": "",
        "pipelines/schema.py": "",
        "pipelines/a/__init__.py": "",
        "pipelines/a/low.py": "def f():\n    from pipelines.a.high import g\n",
        "pipelines/a/high.py": "from pipelines.a import low\nfrom pipelines import schema\n",
        "pipelines/a/rel.py": "from . import low\nfrom ..schema import X\nimport dags.x\n",
        "pipelines/b.py": "import pipelines.a.low as low\nimport pandas\n",
    })
    graph = import_graph(package)

    assert graph["pipelines.a.low"] == {"pipelines.a.high"}
    assert graph["pipelines.a.high"] == {"pipelines.a.low", "pipelines.schema"}
    assert graph["pipelines.a.rel"] == {"pipelines.a.low", "pipelines.schema", "dags.x"}
    assert graph["pipelines.b"] == {"pipelines.a.low"}
    assert find_cycles(graph) == [["pipelines.a.high", "pipelines.a.low", "pipelines.a.high"]]


def test_find_cycles_reports_each_cycle_once():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert sorted(find_cycles(graph)) == [["a", "b", "c", "a"], ["d", "d"]]
