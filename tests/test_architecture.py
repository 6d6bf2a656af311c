"""The shape of the code base (issue #13), read from the source with :mod:`ast`.

* no import cycles between modules at module level;
* ``fairwheel.domain`` imports nothing of the project but ``fairwheel.errors`` and itself;
* the CLI is an edge: nothing outside ``fairwheel/cli/`` imports it;
* the CLI has one failure helper, ``fairwheel.cli._shared.fail``.

An edge ``a -> b`` means module ``a`` imports module ``b`` (``from b import name`` counts as an
import of ``b.name`` when that is a module). Importing ``a.b.c`` also runs the packages ``a`` and
``a.b`` first; those implicit parent imports are not edges, as in other import linters, or every
package whose ``__init__`` imports its own submodules would be a cycle. "Module level" leaves out
imports inside functions (the lazy imports that keep ``fairwheel --help`` fast) and under
``if TYPE_CHECKING:``; the layering rules count every import, lazy or not.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fairwheel"
CLI = "fairwheel.cli"

Graph = dict[str, set[str]]

# Module-level import cycles that exist today, each the set of modules of one strongly connected
# component. Only ever remove entries: a new cycle, or a known one that grows, fails the test.
# (None today: the CLI cycle cli.py <-> loop_cli.py <-> valuation/cli.py ran through lazy imports
# and is gone with the cli/ package.) Format: frozenset({"fairwheel.a", "fairwheel.b"}),  # to
# remove in #13
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()

# Imports from fairwheel.domain.* of anything but fairwheel.errors and fairwheel.domain.*, as
# (importer, imported). None today. Format: ("fairwheel.domain.x", "fairwheel.y"),  # to remove
# in #13
KNOWN_DOMAIN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


# ------------------------------------------------------------------------- the import graph


def module_name(path: Path, root: Path) -> str:
    """``root/a/b.py`` -> ``<root.name>.a.b``; a package's ``__init__.py`` is the package."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(
    tree: ast.Module, module: str, is_package: bool, *, lazy: bool
) -> set[tuple[str, ...]]:
    """What ``module`` imports: per imported name, the modules it may be, likeliest first.

    ``import m`` gives ``("m",)``; ``from m import x`` gives ``("m.x", "m")`` (a submodule, or a
    name in ``m``). With ``lazy=False`` only what runs when the module is imported: not the
    bodies of functions and not ``if TYPE_CHECKING:`` blocks (their ``else:`` does run).
    """
    found: set[tuple[str, ...]] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if not lazy and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not lazy and isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.orelse:
                    visit_one(stmt)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update((alias.name,) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[: len(package) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            found.update(
                (source,) if alias.name == "*" else (f"{source}.{alias.name}", source)
                for alias in node.names
            )
        visit(node)

    visit(tree)
    return found


def build_graph(root: Path, *, lazy: bool = False) -> Graph:
    """Module -> the project modules it imports, for every ``.py`` file under ``root``."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: Graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names = imported_names(tree, module, path.name == "__init__.py", lazy=lazy)
        targets = set()
        for choices in names:
            name = next((c for c in choices if c in files), choices[-1])
            while name and name not in files:  # a name inside a module, or not the project's
                name = name.rpartition(".")[0]
            if name:
                targets.add(name)
        graph[module] = targets - {module}
    return graph


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """The strongly connected components that hold a cycle (Tarjan, iterative)."""
    edges = {v: sorted(set(ws)) for v, ws in graph.items()}
    for ws in list(edges.values()):
        for w in ws:
            edges.setdefault(w, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[frozenset[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, successors = work[-1]
            succ = next(successors, None)
            if succ is not None:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(edges[succ])))
                elif succ in on_stack:
                    low[v] = min(low[v], index[succ])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.add(w)
                    if w == v:
                        break
                if len(component) > 1 or v in edges[v]:
                    cycles.append(frozenset(component))
    return cycles


def cycle_path(graph: Mapping[str, Iterable[str]], component: frozenset[str]) -> list[str]:
    """One concrete cycle inside ``component``, as ``[a, b, …, a]`` (for messages)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, ())):
            if w == start:
                return [*paths[v], start]
            if w in component and w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return sorted(component)


def _describe(graph: Graph, cycles: Iterable[frozenset[str]]) -> str:
    return "\n".join(" -> ".join(cycle_path(graph, c)) for c in cycles)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(SRC)


@pytest.fixture(scope="module")
def full_graph() -> Graph:
    return build_graph(SRC, lazy=True)


# ------------------------------------------------------------------- the checker checks itself


def test_cycle_detector_finds_cycles_in_a_fake_graph() -> None:
    fake = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": set(), "s": {"s"}}
    assert sorted(map(sorted, find_cycles(fake))) == [["a", "b", "c"], ["s"]]
    assert cycle_path(fake, frozenset("abc")) == ["a", "b", "c", "a"]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []
    long_chain = {str(i): {str(i + 1)} for i in range(5000)} | {"5000": {"0"}}
    assert [len(c) for c in find_cycles(long_chain)] == [5001]  # no recursion limit


def test_graph_skips_lazy_and_typing_imports_of_a_fake_package(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg import a\n")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\nimport os\nfrom . import b\n"
        "if TYPE_CHECKING:\n    from pkg.sub import c\nelse:\n    import pkg.sub\n"
    )
    (pkg / "b.py").write_text(
        "def f():\n    from pkg import a\n\nclass K:\n    from .sub.c import X\n"
    )
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from ..a import something\nfrom pkg.b import K as _K\n")
    eager = build_graph(pkg)
    assert eager == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.b", "pkg.sub"},
        "pkg.b": {"pkg.sub.c"},
        "pkg.sub": set(),
        "pkg.sub.c": {"pkg.a", "pkg.b"},
    }
    assert find_cycles(eager) == [frozenset({"pkg.a", "pkg.b", "pkg.sub.c"})]
    assert build_graph(pkg, lazy=True)["pkg.a"] == {"pkg.b", "pkg.sub", "pkg.sub.c"}
    assert build_graph(pkg, lazy=True)["pkg.b"] == {"pkg.a", "pkg.sub.c"}


# ----------------------------------------------------------------------------------- the rules


def test_no_new_import_cycles(graph: Graph) -> None:
    assert "fairwheel.node" in graph and len(graph) > 50, "the source tree was not found"
    cycles = find_cycles(graph)
    new = [c for c in cycles if c not in KNOWN_CYCLES]
    assert not new, "new module-level import cycles:\n" + _describe(graph, new)
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in cycles]
    assert not gone, f"these cycles are gone or changed; remove them from KNOWN_CYCLES: {gone}"


def test_domain_imports_only_errors_and_itself(full_graph: Graph) -> None:
    domain = [m for m in full_graph if m == "fairwheel.domain" or m.startswith("fairwheel.domain.")]
    assert domain, "fairwheel.domain was not found"
    found = {
        (m, t)
        for m in domain
        for t in full_graph[m]
        if t != "fairwheel.errors" and t != "fairwheel.domain"
        if not t.startswith("fairwheel.domain.")
    }
    assert not found - KNOWN_DOMAIN_VIOLATIONS, f"domain imports: {sorted(found)}"
    gone = sorted(KNOWN_DOMAIN_VIOLATIONS - found)
    assert not gone, f"remove these from KNOWN_DOMAIN_VIOLATIONS: {gone}"


def _in_cli(module: str) -> bool:
    return module == CLI or module.startswith(CLI + ".")


def test_nothing_outside_the_cli_imports_it(full_graph: Graph) -> None:
    assert CLI in full_graph, "fairwheel/cli/ was not found"
    users = sorted(
        f"{m} -> {t}" for m, ts in full_graph.items() if not _in_cli(m) for t in ts if _in_cli(t)
    )
    assert not users, f"the CLI is an edge; these modules import it: {users}"


def test_cli_groups_share_only_the_helpers(full_graph: Graph) -> None:
    cli = {m: {t for t in ts if _in_cli(t)} for m, ts in full_graph.items() if _in_cli(m)}
    assert not find_cycles(cli), "import cycle in the CLI, lazy imports included:\n" + _describe(
        full_graph, find_cycles(cli)
    )
    shared = CLI + "._shared"
    for module, targets in cli.items():
        if module not in (CLI, CLI + ".__main__"):
            assert targets <= {shared}, f"{module} imports {targets - {shared}} of the CLI"


def test_cli_has_one_failure_helper() -> None:
    helpers, exits = [], []
    for path in sorted((SRC / "cli").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(SRC).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and re.fullmatch(
                r"_*(fail|die|abort|error|exit)\w*", node.name
            ):
                helpers.append(f"{where}:{node.name}")
            if isinstance(node, ast.Raise) and "typer.Exit" in ast.unparse(node):
                exits.append(f"{where}:{node.lineno}")
    assert helpers == ["cli/_shared.py:fail"], f"failure helpers: {helpers}"
    assert [e.partition(":")[0] for e in exits] == ["cli/_shared.py"], (
        f"raise typer.Exit outside cli/_shared.fail (use fail()): {exits}"
    )


# ------------------------------------------------------------ the node: services, no mixins

EDGES = (
    "fairwheel.api", "fairwheel.web", "fairwheel.cli", "fairwheel.sim", "fairwheel.client",
    "fairwheel.mcp_server",
)  # fmt: skip
NODE = "fairwheel.node"


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_node_services_import_no_edge(full_graph: Graph) -> None:
    """Use cases never reach up into the API, dashboard, CLI, simulation or client."""
    found = sorted(
        f"{m} -> {t}"
        for m, ts in full_graph.items()
        if _within(m, NODE)
        for t in ts
        if any(_within(t, edge) for edge in EDGES)
    )
    assert not found, f"the node imports its edges: {found}"


def test_node_services_have_no_cycle_and_no_stubs(full_graph: Graph) -> None:
    services = {m: {t for t in ts if _within(t, NODE)} for m, ts in full_graph.items()}
    services = {m: ts for m, ts in services.items() if _within(m, NODE)}
    assert len(services) >= 10, sorted(services)
    assert not find_cycles(services), _describe(full_graph, find_cycles(services))
    for path in sorted((SRC / "node").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "NotImplementedError" not in text, f"{path.name}: a stub standing in for a service"
        tree = ast.parse(text)
        mixins = [c.name for c in ast.walk(tree) if isinstance(c, ast.ClassDef)]
        assert not [n for n in mixins if n.endswith("Mixin")], f"{path.name}: mixins {mixins}"


def _readme_layout() -> str:
    readme = (SRC.parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("```\nsrc/fairwheel/\n")
    return readme[start : readme.index("\n```", start + 4)]


def test_readme_layout_names_every_top_level_module_and_nothing_else() -> None:
    """The README's source tree (mirrored in docs/architecture.md's layers) stays true."""
    named = set(re.findall(r"(?<![\w/.])([a-z_]+(?:/|\.py))(?=\s)", _readme_layout() + " "))
    named -= {"src/", "contracts/", "tests/", "benchmarks/", "docs/"}
    actual = {
        p.name + ("/" if p.is_dir() else "")
        for p in SRC.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"
    } - {"__init__.py"}
    assert named - actual == set(), f"the README names modules that do not exist: {named - actual}"
    assert actual - named == set(), f"the README's tree leaves out: {sorted(actual - named)}"


def test_architecture_doc_names_every_node_service() -> None:
    doc = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    for path in sorted((SRC / "node").glob("*.py")):
        if path.stem != "__init__":
            assert f"{path.stem}.py" in doc, f"docs/architecture.md does not name node/{path.name}"


# --------------------------------------------------------- layers: edges, capabilities, ports

PORTS = (
    "fairwheel.chain",
    "fairwheel.store",
    "fairwheel.index",
    "fairwheel.blobs",
    "fairwheel.embed",
)
CAPABILITIES = ("fairwheel.domain", "fairwheel.quality", "fairwheel.valuation",
                "fairwheel.labeling", "fairwheel.feedback", "fairwheel.training",
                "fairwheel.settlement", "fairwheel.exports")  # fmt: skip
# What a node holds that only its services may touch.
PORT_ATTRIBUTES = frozenset({"store", "chain", "protocol", "blobs", "embedder", "ports",
                             "escrow_cache"})  # fmt: skip


def port_uses(source: str) -> list[str]:
    """Where ``source`` reaches past the node's services: ``node.store``, ``world.node.chain``,
    ``self.ctx.node.protocol``, or a private ``node._x`` (any expression ending in ``node``)."""
    found: list[tuple[int, str]] = []
    for n in ast.walk(ast.parse(source)):
        if not isinstance(n, ast.Attribute):
            continue
        base = ast.unparse(n.value)
        if (base == "node" or base.endswith(".node")) and (
            n.attr in PORT_ATTRIBUTES or n.attr.startswith("_")
        ):
            found.append((n.lineno, f"{n.lineno}: {base}.{n.attr}"))
    return [text for _, text in sorted(found)]


def test_port_use_finder_on_fake_edges() -> None:
    fake = (
        "node.store.pool(1)\nx = world.node.chain\nself.ctx.node.protocol.mint(a)\n"
        "node._gates\nnode.queries.pool(1)\nnode.onchain.now()\nother.store\nnode.settings\n"
    )
    assert port_uses(fake) == [
        "1: node.store", "2: world.node.chain", "3: self.ctx.node.protocol", "4: node._gates",
    ]  # fmt: skip


def _edge_files() -> list[Path]:
    files = [SRC / "client.py", SRC / "mcp_server.py"]
    for package in ("api", "web", "cli", "sim"):
        files += sorted((SRC / package).rglob("*.py"))
    return files


def test_edges_use_only_the_nodes_services_and_queries() -> None:
    """The API, dashboard, CLI and simulator never touch a port: they call ``node.<use case>``,
    ``node.queries``, ``node.onchain`` or ``node.testchain`` (issue #13, item 2)."""
    found = [
        f"{path.relative_to(SRC)}:{use}"
        for path in _edge_files()
        for use in port_uses(path.read_text(encoding="utf-8"))
    ]
    assert len(_edge_files()) > 20
    assert not found, f"edges reaching past the node's services: {found}"


def test_edges_import_no_backend(full_graph: Graph) -> None:
    """An edge may open a port by its URL factory (``fairwheel.embed``), never a backend."""
    found = sorted(
        f"{m} -> {t}"
        for m, ts in full_graph.items()
        if any(_within(m, edge) for edge in EDGES)
        for t in ts
        if any(_within(t, port) and t != port for port in PORTS)
    )
    assert not found, f"edges importing a port's modules: {found}"


def test_capabilities_import_no_port_no_node_and_no_edge(full_graph: Graph) -> None:
    """Quality, valuation, labeling, feedback, training and settlement are pure rules: the
    node's services feed them data, so they run the same under any backend."""
    outside = (*PORTS, NODE, *EDGES)
    found = sorted(
        f"{m} -> {t}"
        for m, ts in full_graph.items()
        if any(_within(m, cap) for cap in CAPABILITIES)
        for t in ts
        if any(_within(t, layer) for layer in outside)
    )
    assert [c for c in CAPABILITIES if c in full_graph] == list(CAPABILITIES)
    assert not found, f"capabilities importing ports, the node or edges: {found}"
