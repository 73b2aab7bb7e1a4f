"""The wheel's package layout (pyproject.toml holds everything else).

The source keeps its four top-level packages, ``app``, ``core``, ``devices`` and ``resources``
(imported as ``core.x``). In the wheel they land under the private ``therascope/_app/`` and the
launcher package ``packaging/launcher/therascope`` is the only top-level name: see
``packaging/launcher/therascope/__init__.py`` and the README's "Install" section for why. The
package list is computed here because pyproject.toml cannot find packages under another name.
"""

from setuptools import find_packages, setup

ROOTS = ("app", "core", "devices", "resources")
PRIVATE = "therascope._app"

found = find_packages(include=[*ROOTS, *(f"{r}.*" for r in ROOTS)])
setup(
    packages=["therascope", PRIVATE, *(f"{PRIVATE}.{p}" for p in found)],
    package_dir={
        "therascope": "packaging/launcher/therascope",
        **{f"{PRIVATE}.{r}": r for r in ROOTS},
    },
)
