"""Check that no private (``_``-prefixed) name is imported across a module boundary.

Rule (ARCHITECTURE.md): in app/, core/ and devices/, ``from X import _name`` is allowed only when
``X`` is itself a private module (its own name starts with ``_``) in the importing module's package;
such a module is that package's shared internals. Dunder names (``__version__``) are public. Imports
inside functions count the same as those at the top. Tests are exempt.

    python tools/check_private_imports.py [ROOT ...]      # exit 1 and one line per violation
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGES = ("app", "core", "devices")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def violations(root: Path) -> Iterator[str]:
    """Yield ``path:line: message`` for every private name imported across a module boundary."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            importer = module_name(path, root)
            is_package = path.name == "__init__.py"
            importer_pkg = importer if is_package else importer.rpartition(".")[0]
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.ImportFrom):
                    continue
                source = _absolute(node, importer, is_package)
                if source.split(".")[0] not in PACKAGES:
                    continue
                src_pkg, _, src_leaf = source.rpartition(".")
                shared_internal = _is_private(src_leaf) and src_pkg == importer_pkg
                for alias in node.names:
                    if _is_private(alias.name) and not shared_internal:
                        rel = path.relative_to(root)
                        yield f"{rel}:{node.lineno}: private name {alias.name} imported from {source}"
            # importing a private module of another package is crossing its boundary too
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    names = [_absolute(node, importer, is_package)]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                for full in names:
                    parts = full.split(".")
                    if parts[0] not in PACKAGES:
                        continue
                    for i, part in enumerate(parts):
                        if _is_private(part) and i > 0:
                            owner = ".".join(parts[:i])
                            if owner != importer_pkg and not importer.startswith(owner + "."):
                                rel = path.relative_to(root)
                                private = ".".join(parts[: i + 1])
                                yield f"{rel}:{node.lineno}: private module {private} imported from outside {owner}"
                            break


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [Path(__file__).resolve().parent.parent]
    found = [v for r in roots for v in violations(r)]
    for v in found:
        print(v)
    print(f"private imports: {len(found)} across module boundaries", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
