"""The dependency rule between the top-level packages (README, "Layout"): every import of every module,
including the lazy ones inside functions, must follow ALLOWED, and the packages must form no cycle.
A lazy import is still a dependency: it only hides the edge from the interpreter, not from the design."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# package -> the packages it may import (lakehouse sits below everything). One line per package.
ALLOWED: dict[str, set[str]] = {
    "lakehouse": set(),
    "reward": {"lakehouse"},
    "sampling": {"lakehouse"},
    "scale": {"lakehouse"},
    "problemsets": {"lakehouse", "reward"},
    "data_cards": {"lakehouse"},
    "synth": {"lakehouse", "sampling", "reward", "scale", "problemsets"},
    # sampling: the views' user turn and assistant text are the rule synth generated with
    "curate": {"lakehouse", "sampling", "reward", "data_cards", "scale", "problemsets"},
    # scale: `train eval --executor` runs its shards through the same executors as synth and curate
    "train": {"lakehouse", "sampling", "reward", "problemsets", "scale"},
}

# (module, package) edges that break the rule today and are being removed; delete a line once its edge is
# gone (the test says so).
PENDING: dict[tuple[str, str], str] = {}


def packages() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob("*/__init__.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, module: str) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in the file of `module`, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.append((".".join(base + ([node.module] if node.module else [])), node.lineno))
            else:
                out.append((node.module, node.lineno))
    return out


def edges() -> dict[tuple[str, str], list[str]]:
    """(module, imported top-level package) -> where, for imports between different top-level packages."""
    ours = set(packages())
    found: dict[tuple[str, str], list[str]] = {}
    for pkg in ours:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            source = module_name(path)
            for name, line in imported(path, source):
                target = name.split(".")[0]
                if target in ours and target != pkg:
                    found.setdefault((source, target), []).append(f"{path.relative_to(ROOT)}:{line}")
    return found


def test_every_package_has_a_rule():
    assert [p for p in packages() if p not in ALLOWED] == []


def test_imports_follow_the_layers():
    bad = [
        f"{where[0]}: {module} -> {target}"
        for (module, target), where in sorted(edges().items())
        if target not in ALLOWED[module.split(".")[0]] and (module, target) not in PENDING
    ]
    assert bad == []


def test_pending_exceptions_are_still_needed():
    stale = [edge for edge in PENDING if edge not in edges()]
    assert stale == [], f"these edges are gone: delete them from PENDING: {stale}"


def test_packages_form_no_cycle():
    graph: dict[str, set[str]] = {}
    for module, target in edges():
        graph.setdefault(module.split(".")[0], set()).add(target)
    state: dict[str, str] = {}  # grey while on the stack, black when done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "grey"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "grey":
                return path + [node, nxt]
            if nxt not in state and (cycle := visit(nxt, path + [node])):
                return cycle
        state[node] = "black"
        return None

    cycles = [c for p in sorted(graph) if p not in state and (c := visit(p, []))]
    assert cycles == []


def test_imports_are_found_at_any_depth_and_relative_ones_resolved(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text(
        "from . import x\nfrom ..b import c\nimport os, json\ndef f():\n    import synth.generate\n"
    )
    assert sorted(imported(path, "pkg.sub.mod")) == [
        ("json", 3), ("os", 3), ("pkg.b", 2), ("pkg.sub", 1), ("synth.generate", 5),
    ]  # fmt: skip
