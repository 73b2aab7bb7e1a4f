"""Files that ship with TheraScope, found with :mod:`importlib.resources`.

Every file the program reads from its own installation goes through here, never through a path
relative to a module file or the source tree:

* :func:`resource_path` — the top-level ``resources/`` folder (the report fonts, the demo model,
  the MTCNN face weights, the protocol documents, the screenshot). ``resources`` is a package
  (its ``__init__.py`` holds only a docstring) whose files are package data.
* :func:`package_path` — data files inside our own packages: the catalog's schema SQL
  (``core.catalog``), the model cards (``core.models``: ``MODEL_CARD.md``, ``cards/*.md``).

Where the lookup works, and why
-------------------------------
``importlib.resources.files(package)`` asks the package's loader, so it finds the files wherever
the package was imported from:

* the source tree: the repository root is on ``sys.path`` (``python -m app``, pytest, the
  ``tools/`` and ``benchmarks/`` scripts put it there);
* an editable install (``pip install -e .``) and the wheel: the ``therascope`` launcher
  (``packaging/launcher/therascope``) puts the folder that holds ``app``, ``core``, ``devices``
  and ``resources`` first on ``sys.path`` — the source tree for an editable install, the private
  ``site-packages/therascope/_app/`` for the wheel — so the names are the same as in the source;
* a PyInstaller bundle: PyInstaller's frozen importer answers ``files()`` with the bundle's
  folder, as long as the data were collected beside the packages. The spec must therefore say
  ``hiddenimports=["resources"]`` and collect the data with
  ``collect_data_files("resources")`` and ``collect_data_files("core")`` (the schema SQL and the
  model cards), which lands them in ``_internal/resources/…`` and ``_internal/core/…``.

A package imported from a zip archive has no files on disk; a file asked for there is extracted
once into a temporary file (:func:`importlib.resources.as_file`) that lives until the process
exits, so callers always get a :class:`~pathlib.Path` they can hand to reportlab or torch.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.resources
import threading
from pathlib import Path

#: The package holding the top-level ``resources/`` folder.
RESOURCES_PACKAGE = "resources"

_extracted = contextlib.ExitStack()
_extracted_lock = threading.Lock()
_cache: dict[tuple[str, tuple[str, ...]], Path] = {}
atexit.register(_extracted.close)


class ResourceError(RuntimeError):
    """A package that should hold shipped files cannot be imported."""


def package_path(package: str, *parts: str) -> Path:
    """The file or folder ``parts`` inside the importable ``package``, as a path on disk.

    The path is returned whether or not it exists (callers check and explain a missing file in
    their own words). A file inside a zip-imported package is extracted once (see the module
    docstring); a folder there cannot be (:class:`ResourceError`).

    Raises
    ------
    ResourceError — ``package`` cannot be imported (TheraScope run without its folder on
        ``sys.path``), or a folder was asked for inside a zip archive
    """
    key = (package, parts)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    # No lock while the package is imported: its import may itself ask for its files.
    try:
        target = importlib.resources.files(package)
    except ModuleNotFoundError as exc:
        raise ResourceError(
            f"TheraScope's package {package!r} cannot be imported ({exc}); start TheraScope "
            "with the 'therascope' command, or from the root of its source tree"
        ) from exc
    for part in parts:
        target = target.joinpath(part)
    if isinstance(target, Path):
        return _cache.setdefault(key, target)
    if target.is_dir():
        raise ResourceError(
            f"{package}/{'/'.join(parts)} is a folder inside an archive; install TheraScope "
            "unpacked (a wheel or the bundle) to use it"
        )
    with _extracted_lock:  # extracted once, however many threads ask
        if key not in _cache:
            _cache[key] = _extracted.enter_context(importlib.resources.as_file(target))
        return _cache[key]


def resource_path(*parts: str) -> Path:
    """The file or folder ``parts`` of the shipped ``resources/`` folder, as a path on disk.

    ``resource_path("models", "demo-bmmn-bae2.pt")`` is the demo model. See
    :func:`package_path` for missing files and archives.
    """
    return package_path(RESOURCES_PACKAGE, *parts)
