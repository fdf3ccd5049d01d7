"""tnlbot/core is pure (no I/O, no async, no SQL, no platform library); packages are layered."""
import ast
from pathlib import Path

import tnlbot.core

FORBIDDEN = ("asyncio", "sqlalchemy", "telegram", "nio", "httpx", "aiohttp", "psycopg", "sqlite3",
             "socket", "tnlbot.runtime", "tnlbot.store", "tnlbot.transports", "tnlbot.app",
             "tnlbot.cli", "tnlbot.flows", "tnlbot.i18n", "time", "os", "subprocess", "threading")
RELATIVE_FORBIDDEN = ("runtime", "store", "transports", "app", "cli", "flows", "i18n")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level >= 2 and node.module:
                names.add("tnlbot." + node.module)
            elif node.level >= 2:
                names.update("tnlbot." + alias.name for alias in node.names)
            elif node.level == 0 and node.module:
                names.add(node.module)
    return names


def pure_modules() -> list[Path]:
    """The core, and the pure policies that live with their feature."""
    core = Path(tnlbot.core.__file__).parent
    return sorted(core.glob("*.py")) + [core.parent / "campaigns" / "schedule.py",
                                        core.parent / "jury" / "rules.py"]


def test_core_imports_nothing_impure():
    offenders = {}
    for path in pure_modules():
        bad = {name for name in imported_modules(path)
               if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)}
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


def test_the_purity_check_catches_an_impure_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import asyncio\nfrom ..store import Store\nfrom sqlalchemy import select\n")
    assert {"asyncio", "tnlbot.store", "sqlalchemy"} <= imported_modules(sample)


# ---------------------------------------------------------------- layering
# Each package may import only from its own layer or below; no cycle between modules.
LAYERS = (("core",), ("store", "flows", "i18n", "bundled"), ("settings", "runtime"),
          ("campaigns", "jury", "flowbook", "startup", "say"), ("transports", "ops"), ("app",),
          ("cli", "__main__"))
# Feature CLIs sit in their feature's package but are commands: given Settings, never App.
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}
PACKAGE = Path(tnlbot.__file__).parent


def module_files(root: Path = PACKAGE) -> dict[str, Path]:
    """Module name -> file, for every module of the package (migrations aside)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(module: str, is_package: bool, node: ast.Import | ast.ImportFrom,
              files: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [found for alias in node.names for found in _resolve([], alias.name, files)]
    base = module if is_package else module.rpartition(".")[0]
    for _ in range(max(node.level - 1, 0)):
        base = base.rpartition(".")[0]
    target = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
    return _resolve([f"{target}.{alias.name}" for alias in node.names], target, files)


def _resolve(names: list[str], target: str, files: dict[str, Path]) -> list[str]:
    """The package's modules an import names: submodules when it names them, else the
    nearest enclosing module (`from .x import Class` -> x)."""
    modules = [name for name in names if name in files]
    if modules:
        return modules
    while target and target not in files:
        target = target.rpartition(".")[0]
    return [target] if target else []


def import_edges(files: dict[str, Path]) -> dict[str, dict[str, int]]:
    """Module -> {imported module of the package: line}, lazy imports included."""
    edges: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        found = edges.setdefault(module, {})
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in _imported(module, path.name == "__init__.py", node, files):
                if name != module:
                    found.setdefault(name, node.lineno)
    return edges


def layer(module: str) -> int:
    return LAYER_OF[module.split(".")[1] if "." in module else "app"]


def layering_offences(edges: dict[str, dict[str, int]]) -> list[str]:
    return [f"{module} (line {line}) imports {target}"
            for module, targets in sorted(edges.items()) for target, line in sorted(targets.items())
            if layer(target) > layer(module)]


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Each import cycle once, as a path that comes back to its start."""
    found: list[list[str]] = []
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges.get(module, {})):
            if state.get(target) == 1:
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2
    for module in sorted(edges):
        if module not in state:
            visit(module)
    return found


def test_every_package_has_a_layer():
    assert {module.split(".")[1] for module in module_files() if "." in module} <= set(LAYER_OF)


def test_packages_import_only_their_layer_or_below():
    assert layering_offences(import_edges(module_files())) == []


def test_no_import_cycle_between_modules():
    assert cycles(import_edges(module_files())) == []


def test_the_layering_check_names_the_offending_import(tmp_path):
    root = tmp_path / "tnlbot"
    for name, text in {"__init__.py": "", "core/__init__.py": "", "store/__init__.py": "",
                       "core/a.py": "from ..store import b\n",
                       "store/b.py": "from ..core import a\nfrom . import c\n",
                       "store/c.py": "import tnlbot.store.b\n"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    edges = import_edges(module_files(root))
    assert layering_offences(edges) == ["tnlbot.core.a (line 1) imports tnlbot.store.b"]
    assert cycles(edges) == [["tnlbot.core.a", "tnlbot.store.b", "tnlbot.core.a"],
                             ["tnlbot.store.b", "tnlbot.store.c", "tnlbot.store.b"]]
