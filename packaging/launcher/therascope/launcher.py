"""The ``therascope`` command: TheraScope's packages put on ``sys.path``, then its command line.

:func:`app_folder` finds the folder holding ``app``, ``core``, ``devices`` and ``resources`` with
``importlib.util.find_spec("therascope._app.app")``, which answers for both installs: the wheel's
``site-packages/therascope/_app/`` and, in an editable install, the source tree (setuptools'
editable finder maps the name back to the checkout's ``app/``). Nothing is imported under the
``therascope._app.*`` names; only this process's ``sys.path`` changes, and only when
:func:`main` (or :func:`activate`) runs, not on ``import therascope``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

#: The private package under which the wheel carries TheraScope's own packages.
PRIVATE = "therascope._app"
#: TheraScope's top-level packages, as the source tree names them.
PACKAGES = ("app", "core", "devices", "resources")


class LauncherError(RuntimeError):
    """TheraScope's packages cannot be found, or others of the same name are already loaded."""


def app_folder() -> Path:
    """The folder holding TheraScope's packages (``therascope/_app`` or the source tree).

    Raises
    ------
    LauncherError — the installation lacks them (a damaged install)
    """
    try:
        spec = importlib.util.find_spec(f"{PRIVATE}.app")
    except ImportError as exc:
        spec, why = None, f" ({exc})"
    else:
        why = ""
    if spec is None or spec.origin is None:
        raise LauncherError(
            f"TheraScope's packages are missing from this installation{why}; reinstall TheraScope"
        )
    folder = Path(spec.origin).resolve().parent.parent
    missing = [p for p in PACKAGES if not (folder / p / "__init__.py").is_file()]
    if missing:
        raise LauncherError(
            f"TheraScope's installation in {folder} lacks {', '.join(missing)}; reinstall TheraScope"
        )
    return folder


def activate() -> Path:
    """Put :func:`app_folder` first on ``sys.path`` and return it.

    Raises
    ------
    LauncherError — as :func:`app_folder`; or a module named ``app``, ``core``, ``devices`` or
        ``resources`` from elsewhere is already imported in this process
    """
    folder = app_folder()
    for name in PACKAGES:
        loaded = sys.modules.get(name)
        origin = getattr(loaded, "__file__", None) if loaded is not None else None
        if loaded is not None and (
            origin is None or Path(origin).resolve().parent.parent != folder
        ):
            raise LauncherError(
                f"another package named {name!r} ({origin or 'no file'}) is already loaded in "
                "this Python process; start TheraScope with the 'therascope' command"
            )
    entry = str(folder)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)
    return folder


def main(argv: list[str] | None = None) -> int:
    """Run TheraScope's command line (``app.cli.main``) with ``argv`` (default: ``sys.argv``)."""
    try:
        activate()
    except LauncherError as exc:
        print(f"therascope: {exc}", file=sys.stderr)
        return 2
    from app.cli.main import main as cli_main

    return cli_main(argv)
