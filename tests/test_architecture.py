"""Issue 18: the book's code in front, the speed behind. The teaching files stay free of the
fast engine's concerns, Sequential stays small, and the package has no import cycle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "layerwise"
SPEED_WORDS = re.compile(r"thread|blas|shard|workspace|memory layout|batch-last|contiguous|openblas",
                         re.IGNORECASE)


@pytest.mark.parametrize("path", sorted([*PACKAGE.glob("layers/*.py"), *PACKAGE.glob("networks/*.py")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_teaching_files_do_not_mention_the_fast_engine(path: Path) -> None:
    hits = [f"{path.name}:{n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
            if SPEED_WORDS.search(line)]
    assert not hits, "\n".join(hits)


def test_sequential_stays_small() -> None:
    assert len((PACKAGE / "networks" / "sequential.py").read_text().splitlines()) <= 360


def _module_name(path: Path) -> str:
    parts = ["layerwise", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str], annotations: bool = False) -> set[str]:
    """The package's modules that ``path`` imports at module level or inside functions
    (``TYPE_CHECKING`` blocks aside, which never run, unless ``annotations``)."""
    tree = ast.parse(path.read_text())
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) and not annotations:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            names = []
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != me and name != "layerwise":
                found.add(name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _cycles(annotations: bool) -> list[list[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: _imports(path, set(files), annotations) for name, path in files.items()}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    for name in graph:
        graph[name] = {dep for dep in graph[name] if not dep.startswith(name + ".")}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                walk(dep, [*stack, dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    return cycles


def test_the_package_has_no_import_cycle() -> None:
    cycles = _cycles(annotations=False)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_no_import_cycle_even_through_type_annotations() -> None:
    """TYPE_CHECKING imports counted too: where a module that another uses needs its type, it
    names a protocol of what it reads (the fast kernels, DataParallel, the summary, the trace
    figure), so that even a static reading of the imports finds no loop."""
    cycles = _cycles(annotations=True)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)



# -- issue 30: the book's files import nothing of the engine but its switch -------------------------
BOOK_FILES = sorted([*PACKAGE.glob("layers/*.py"), *PACKAGE.glob("networks/*.py"), PACKAGE / "optimizers.py"])
ENGINE = ("layerwise.fast", "layerwise.fast.parallel", "layerwise.fast.distributed", "layerwise.training.trainer")


@pytest.mark.parametrize("path", BOOK_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_books_files_import_nothing_of_the_engine_but_its_switch(path: Path) -> None:
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    engine = {m for m in _imports(path, modules, annotations=True) if m.startswith(ENGINE)}
    # `from layerwise.fast import switch` reaches the package too, whose __init__ imports only
    # the switch (test below)
    assert engine <= {"layerwise.fast", "layerwise.fast.switch"}, f"{path.name} imports {sorted(engine)}"


def test_the_engine_package_imports_only_its_switch_when_imported() -> None:
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    assert _imports(PACKAGE / "fast" / "__init__.py", modules, annotations=True) == {"layerwise.fast.switch"}


def test_the_switch_imports_no_kernel_at_module_level() -> None:
    tree = ast.parse((PACKAGE / "fast" / "switch.py").read_text())
    top = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    names = {getattr(node, "module", None) or node.names[0].name for node in top}
    assert not {n for n in names if n and n.startswith("layerwise")}, names


def test_no_module_climbs_back_to_the_package_root() -> None:
    """``__version__`` lives in a leaf module (layerwise/version.py): nothing inside the package
    imports ``layerwise`` itself, whose __init__ is the public face for users."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "layerwise" and node.level == 0:
                names = [a.name for a in node.names]
                submodules = [n for n in names if (PACKAGE / n).is_dir() or (PACKAGE / f"{n}.py").is_file()]
                if names != submodules:
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} from layerwise import {names}")
            elif isinstance(node, ast.Import) and any(a.name == "layerwise" for a in node.names):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} import layerwise")
    assert not offenders, "\n".join(offenders)
