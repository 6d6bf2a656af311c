"""Print the shape of the code base that issue #13 tracks, before and after restructuring.

Usage: ``python scripts/arch_metrics.py [src/fairwheel]``. Prints the module count, the largest
modules, how often ``Any`` is named, the node's mixin methods, and the direct uses of ports
(``node.store``, ``node.chain``, ``node.protocol``, ``node.blobs``, private node methods) from
the edges (``api/``, ``web/``, ``sim/``, CLI modules).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

EDGE_PARTS = ("api", "web", "sim", "edges", "cli")
PORT_USE = re.compile(r"\bnode\.(store|chain|protocol|blobs|embedder|_[a-z]\w*)\b")


def is_edge(path: Path, root: Path) -> bool:
    rel = path.relative_to(root)
    return rel.parts[0] in EDGE_PARTS or "cli" in rel.stem


def main(root: Path) -> None:
    modules = sorted(p for p in root.rglob("*.py"))
    sizes = sorted(((len(p.read_text().splitlines()), p) for p in modules), reverse=True)
    any_count = sum(len(re.findall(r"\bAny\b", p.read_text())) for p in modules)
    edge_uses: dict[str, int] = {}
    for path in modules:
        if is_edge(path, root):
            for match in PORT_USE.finditer(path.read_text()):
                key = "private" if match.group(1).startswith("_") else match.group(1)
                edge_uses[key] = edge_uses.get(key, 0) + 1
    stubs = sum(p.read_text().count("raise NotImplementedError") for p in modules)
    print(f"modules: {len(modules)}")
    print("largest: " + ", ".join(f"{p.relative_to(root)} ({n})" for n, p in sizes[:3]))
    print(f"modules over 500 lines: {sum(n > 500 for n, _ in sizes)}")
    print(f"`Any` mentions: {any_count}")
    print(f"NotImplementedError stubs: {stubs}")
    total = sum(edge_uses.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(edge_uses.items()))
    print(f"direct port/private uses from edges: {total} ({detail})")
    node_methods = 0
    mixins = 0
    for path in modules:
        tree = ast.parse(path.read_text())
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            if cls.name.endswith("Mixin") or cls.name == "Node":
                mixins += cls.name.endswith("Mixin")
                node_methods += sum(isinstance(b, ast.FunctionDef) for b in cls.body)
    print(f"Node + mixin methods: {node_methods} (mixins: {mixins})")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "src/fairwheel"))
