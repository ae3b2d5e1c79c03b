"""The package's layout: library modules never import command-line modules.

A command-line module (``python -m minisr.X``) reads arguments, calls the library and
prints; everything another module may want lives in a library module. Read with
``ast`` (nothing is imported), so this also covers imports inside functions.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "minisr"
COMMAND_LINE = {"minisr.train", "minisr.evaluate", "minisr.upscale", "minisr.bench", "minisr.sweep",
                "minisr.data.__main__"}
# Imports still to be moved, each with its follow-up. The test fails on any other such
# import, and on an entry here that no longer happens (then delete the entry). None now: a
# sweep's task calls the training command's main() from minisr.training.command, the
# library module that python -m minisr.train itself runs.
KNOWN = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set:
    """Every module ``path`` imports (``from X import y`` counts X and X.y)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
    return found


def library_modules() -> dict:
    modules = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    return {name: path for name, path in modules.items() if name not in COMMAND_LINE}


def test_the_command_line_modules_exist():
    names = {module_name(path) for path in PACKAGE.rglob("*.py")}
    assert COMMAND_LINE <= names, COMMAND_LINE - names


def test_no_library_module_imports_a_command_line_module():
    found = {(name, target) for name, path in library_modules().items()
             for target in imported_modules(path) & COMMAND_LINE}
    assert not found - KNOWN, f"library modules importing command-line modules: {sorted(found - KNOWN)}"
    assert not KNOWN - found, f"no longer imported: delete from KNOWN {sorted(KNOWN - found)}"


def test_the_import_reader_sees_relative_and_nested_imports(tmp_path, monkeypatch):
    folder = tmp_path / "minisr" / "sub"
    folder.mkdir(parents=True)
    (folder / "mod.py").write_text("from ..upscale import main\nfrom .. import train\n"
                                   "def f():\n    import minisr.bench\n")
    monkeypatch.setitem(globals(), "PACKAGE", tmp_path / "minisr")
    assert {"minisr.upscale", "minisr.train", "minisr.bench"} <= imported_modules(folder / "mod.py")
